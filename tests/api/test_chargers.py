"""Chargers in the driver API: near me, the map, a location's detail with this driver's price; only what the
CPOs publish."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from api.views.chargers import NearItem, SummaryOut
from billing.charges import plan_subscribe
from billing.retail import line_totals
from drivers.models import Driver
from roaming.models import Connector, Evse, EvseStatus, Location, Partner, PriceComponent, Tariff, TariffElement
from roaming.selectors_chargers import locations_near
from tests.api.conftest import signed_in
from tests.billing.factories import a_driver, a_partner, a_plan

pytestmark = pytest.mark.django_db

D = Decimal
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HERE = (52.0, 5.0)
_ids = itertools.count(1)


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The expected distance, written out independently of the SQL."""
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def a_location(
    partner: Partner,
    name: str,
    at: tuple[float, float],
    *,
    evses: tuple[tuple[str, list[dict[str, Any]]], ...] = (("AVAILABLE", [{}]),),
    **fields: Any,
) -> Location:
    """A location of `partner` at `at`, with EVSEs (status, connectors); a connector is 11 kW Type 2 AC unless
    given otherwise."""
    n = next(_ids)
    values: dict[str, Any] = {"address": f"Straat {n}", "city": "Utrecht", "country": "NLD", "postal_code": "3511"}
    location = Location.objects.create(
        partner=partner, country_code="NL", party_id="CPO", ocpi_id=f"LOC{n}", name=name,
        latitude=D(str(at[0])), longitude=D(str(at[1])), last_updated=NOW, time_zone="Europe/Amsterdam",
        **(values | fields),
    )  # fmt: skip
    for e, (status, connectors) in enumerate(evses, start=1):
        evse = Evse.objects.create(
            location=location, uid=f"{n}-{e}", evse_id=f"NL*CPO*E{n}{e}", status=status, last_updated=NOW
        )
        for c, connector in enumerate(connectors, start=1):
            Connector.objects.create(
                evse=evse,
                ocpi_id=str(c),
                last_updated=NOW,
                **{"standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
                   "max_amperage": 16, "max_electric_power": 11000} | connector,
            )  # fmt: skip
    return location


CCS_50 = {"standard": "IEC_62196_T2_COMBO", "format": "CABLE", "power_type": "DC", "max_voltage": 500,
          "max_amperage": 125, "max_electric_power": 50000}  # fmt: skip


def names(reply: Any) -> list[str]:
    return [item["name"] for item in reply.json()["results"]]


def near(app: APIClient, radius: int = 5000, **params: Any) -> Any:
    reply = app.get("/api/v1/chargers/near", {"lat": HERE[0], "lon": HERE[1], "radius": radius, **params})
    assert reply.status_code == 200, reply.json()
    return reply


@pytest.fixture
def cpo() -> Partner:
    return a_partner("CPO One")


def test_near_me_is_nearest_first_with_the_distance_and_keeps_to_the_radius(app: APIClient, cpo: Partner) -> None:
    east = a_location(cpo, "East", (52.0, 5.02))  # 1,369 m
    a_location(cpo, "Here", HERE)
    north = a_location(cpo, "North", (52.01, 5.0))  # 1,112 m
    a_location(cpo, "Far", (52.2, 5.0))  # 22 km

    reply = near(app, radius=1500)

    assert names(reply) == ["Here", "North", "East"]
    results = reply.json()["results"]
    for item, location in zip(results, [None, north, east], strict=True):
        expected = 0 if location is None else haversine_m(HERE, (float(location.latitude), float(location.longitude)))
        assert abs(item["distance_m"] - expected) <= 1
    assert [r["distance_m"] for r in results] == [0, 1112, 1369]
    assert names(near(app, radius=1200)) == ["Here", "North"]
    assert reply.json()["count"] == 3
    first = results[0]
    assert set(first) == set(NearItem().fields)  # built without the serializer: the documented shape
    assert set(first["summary"]) == set(SummaryOut().fields)
    assert first["operator"] == {"partner_id": cpo.pk, "name": "CPO One"}
    assert first["summary"] == {"evses": 1, "available": 1, "max_power_kw": "11.0", "standards": ["IEC_62196_T2"],
                                "currents": ["AC"]}  # fmt: skip


def test_near_me_is_paginated_and_limited(app: APIClient, cpo: Partner) -> None:
    for n in range(5):
        a_location(cpo, f"L{n}", (52.0 + n * 0.001, 5.0))

    page = near(app, page_size=2, page=2).json()

    assert (page["count"], [r["name"] for r in page["results"]]) == (5, ["L2", "L3"])
    too_far = app.get("/api/v1/chargers/near", {"lat": 52, "lon": 5, "radius": 50_001})
    assert (too_far.status_code, set(too_far.json()["error"]["fields"])) == (400, {"radius"})
    missing = app.get("/api/v1/chargers/near", {"lat": 52})
    assert set(missing.json()["error"]["fields"]) == {"lon"}


def test_each_filter(app: APIClient, cpo: Partner) -> None:
    other = a_partner("CPO Two")
    a_location(cpo, "AC only", (52.001, 5.0))
    a_location(cpo, "Fast and free", (52.002, 5.0), evses=(("AVAILABLE", [CCS_50]),), operator_name="Fastned")
    a_location(cpo, "Fast but busy", (52.003, 5.0), evses=(("CHARGING", [CCS_50]),))
    a_location(other, "Chademo by the station", (52.004, 5.0), city="Amersfoort",
               evses=(("AVAILABLE", [CCS_50 | {"standard": "CHADEMO", "max_electric_power": 25000}]),))  # fmt: skip
    # AC connector available, the DC one busy: no single connector is both DC and available.
    a_location(cpo, "Mixed", (52.005, 5.0), evses=(("AVAILABLE", [{}]), ("CHARGING", [CCS_50])))

    assert names(near(app, standard="IEC_62196_T2_COMBO")) == ["Fast and free", "Fast but busy", "Mixed"]
    assert names(near(app, standard=["CHADEMO", "IEC_62196_T2_COMBO"]))[2] == "Chademo by the station"
    assert names(near(app, min_power_kw="30")) == ["Fast and free", "Fast but busy", "Mixed"]
    assert names(near(app, min_power_kw="25")) == ["Fast and free", "Fast but busy", "Chademo by the station", "Mixed"]
    assert names(near(app, current="AC")) == ["AC only", "Mixed"]
    assert names(near(app, current="DC", available="true")) == ["Fast and free", "Chademo by the station"]
    assert names(near(app, available="true")) == ["AC only", "Fast and free", "Chademo by the station", "Mixed"]
    assert names(near(app, partner=other.pk)) == ["Chademo by the station"]
    assert names(near(app, operator="fastned")) == ["Fast and free"]
    assert names(near(app, q="amersf")) == ["Chademo by the station"]
    assert names(near(app, q="Straat")) == names(near(app))  # the address
    assert names(near(app, q="station")) == ["Chademo by the station"]  # the name

    bad = app.get("/api/v1/chargers/near", {"lat": "52", "lon": "5", "standard": "USB", "current": "XX",
                                             "partner": "1e30", "min_power_kw": "-1"})  # fmt: skip
    assert (bad.status_code, set(bad.json()["error"]["fields"])) == (400, {"standard", "current", "partner",
                                                                           "min_power_kw"})  # fmt: skip


def _everywhere(app: APIClient) -> dict[str, set[str]]:
    """The names a driver can see of the locations around HERE, by every way of looking."""
    box: dict[str, Any] = {"south": 51.9, "west": 4.9, "north": 52.1, "east": 5.1}
    pins = app.get("/api/v1/chargers/map", box | {"zoom": 15}).json()["pins"]
    cells = app.get("/api/v1/chargers/map", box | {"zoom": 3}).json()["cells"]
    return {
        "near": set(names(near(app))),
        "pins": {p["name"] for p in pins},
        "cell count": {str(sum(c["count"] for c in cells))},
    }


def test_unpublished_locations_and_removed_evses_never_show(app: APIClient, cpo: Partner) -> None:
    shown = a_location(cpo, "Shown", (52.001, 5.0), evses=(("AVAILABLE", [{}]), ("REMOVED", [CCS_50])))
    hidden = a_location(cpo, "Unpublished", (52.002, 5.0), publish=False)
    delisted = a_location(cpo, "No longer listed", (52.003, 5.0), removed_at=NOW)
    gone = a_location(cpo, "All EVSEs removed", (52.004, 5.0), evses=(("REMOVED", [{}]),))
    a_location(cpo, "EVSE no longer listed", (52.005, 5.0), evses=(("AVAILABLE", [{}]),))
    Evse.objects.filter(location__name="EVSE no longer listed").update(removed_at=NOW)

    assert _everywhere(app) == {"near": {"Shown"}, "pins": {"Shown"}, "cell count": {"1"}}
    # The removed EVSE's DC connector does not make the location a DC one, nor count.
    assert names(near(app, current="DC")) == []
    assert near(app).json()["results"][0]["summary"]["evses"] == 1
    detail = app.get(f"/api/v1/chargers/locations/{shown.pk}").json()
    assert [e["status"] for e in detail["evses"]] == ["AVAILABLE"]
    for location in (hidden, delisted, gone):
        reply = app.get(f"/api/v1/chargers/locations/{location.pk}")
        assert (reply.status_code, reply.json()["error"]["type"]) == (404, "not_found")
    assert app.get("/api/v1/chargers/locations/999999").status_code == 404
    assert app.get("/api/v1/chargers/locations/99999999999999999999").status_code == 404  # beyond bigint


def test_the_map_shows_pins_when_zoomed_in_and_counts_per_cell_when_zoomed_out(app: APIClient, cpo: Partner) -> None:
    # Zoom 8: cells of 90 / 2**8 = 0.3515625 degrees; 52.0 / 0.3515625 = 147.9 -> row 147.
    for n in range(3):
        a_location(cpo, f"Utrecht {n}", (52.09 + n * 0.001, 5.12))
    a_location(cpo, "Amsterdam", (52.37, 4.89))
    a_location(cpo, "Busy", (52.371, 4.891), evses=(("CHARGING", [{}]),))
    a_location(cpo, "Outside the box", (50.85, 4.35))
    box = {"south": 51.5, "west": 4.0, "north": 53.0, "east": 6.0}

    pins = app.get("/api/v1/chargers/map", box | {"zoom": 12}).json()
    assert (pins["kind"], pins["truncated"]) == ("pins", False)
    assert {p["name"] for p in pins["pins"]} == {"Utrecht 0", "Utrecht 1", "Utrecht 2", "Amsterdam", "Busy"}

    cells = app.get("/api/v1/chargers/map", box | {"zoom": 8}).json()
    assert (cells["kind"], cells["pins"], cells["cell_degrees"]) == ("cells", [], 0.3515625)
    counts = {(c["south"], c["west"]): c["count"] for c in cells["cells"]}
    size = 0.3515625
    assert counts == {(148 * size, 14 * size): 3, (148 * size, 13 * size): 2}
    utrecht = next(c for c in cells["cells"] if c["count"] == 3)
    assert (utrecht["latitude"], utrecht["longitude"]) == (52.091, 5.12)
    assert utrecht["south"] <= 52.09 < utrecht["north"]
    assert utrecht["west"] <= 5.12 < utrecht["east"]

    available = app.get("/api/v1/chargers/map", box | {"zoom": 8, "available": "true"}).json()
    assert sum(c["count"] for c in available["cells"]) == 4

    wrong = app.get("/api/v1/chargers/map", box | {"zoom": 8, "south": 53.5})
    assert (wrong.status_code, set(wrong.json()["error"]["fields"])) == (400, {"south"})


def test_the_map_caps_its_pins(app: APIClient, cpo: Partner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.views.chargers.MAX_PINS", 2)
    for n in range(3):
        a_location(cpo, f"L{n}", (52.0 + n * 0.001, 5.0))
    reply = app.get("/api/v1/chargers/map", {"south": 51, "west": 4, "north": 53, "east": 6, "zoom": 14}).json()
    assert (len(reply["pins"]), reply["truncated"]) == (2, True)


def _tariff(partner: Partner, ocpi_id: str, per_kwh: str, text: str) -> Tariff:
    tariff = Tariff.objects.create(
        partner=partner, country_code="NL", party_id="CPO", ocpi_id=ocpi_id, currency="EUR", last_updated=NOW,
        alt_text=[{"language": "en", "text": text}, {"language": "nl", "text": text.replace("per", "per")}],
    )  # fmt: skip
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=D(per_kwh), vat=D("21"),
                                  step_size=1)  # fmt: skip
    return tariff


def test_a_locations_detail_with_live_status_and_this_drivers_price(app: APIClient, ann: Driver, cpo: Partner) -> None:
    _tariff(cpo, "T-AC", "0.30", "0.30 EUR per kWh")
    location = a_location(
        cpo, "Central Garage", HERE,
        evses=(("AVAILABLE", [{"tariff_ids": ["T-AC"]}]), ("CHARGING", [CCS_50 | {"tariff_ids": ["T-UNKNOWN"]}])),
        facilities=["TRAIN_STATION"], parking_type="PARKING_GARAGE",
        opening_times={"twentyfourseven": False,
                       "regular_hours": [{"weekday": 1, "period_begin": "07:00", "period_end": "23:00"}]},
    )  # fmt: skip
    ann_plan = a_plan("Flex", markup_percent=D("20"))
    plan_subscribe(driver=ann, plan=ann_plan, at=timezone.now() - timedelta(days=1))
    bob = a_driver("Bob Jansen")
    plan_subscribe(driver=bob, plan=a_plan("Plus", markup_percent=D("5")), at=timezone.now() - timedelta(days=1))
    Evse.objects.filter(location=location, uid__endswith="-1").update(
        status=EvseStatus.BLOCKED, last_updated=NOW + timedelta(minutes=5)
    )  # the live status, as the latest PATCH left it

    reply = app.get(f"/api/v1/chargers/locations/{location.pk}")

    assert reply.status_code == 200
    body = reply.json()
    assert (body["name"], body["facilities"], body["parking_type"]) == ("Central Garage", ["TRAIN_STATION"],
                                                                        "PARKING_GARAGE")  # fmt: skip
    assert body["opening_times"]["regular_hours"] == [{"weekday": 1, "period_begin": "07:00", "period_end": "23:00"}]
    assert body["operator"] == {"partner_id": cpo.pk, "name": "CPO One"}
    ac, dc = body["evses"]
    assert (ac["status"], ac["status_updated"]) == ("BLOCKED", "2026-12-01T09:05:00Z")
    assert dc["status"] == "CHARGING"
    ac_connector, dc_connector = ac["connectors"][0], dc["connectors"][0]
    assert (ac_connector["current"], ac_connector["max_power_kw"]) == ("AC", "11.0")
    assert dc_connector["max_power_kw"] == "50.0"
    assert ac_connector["tariff_text"][0] == {"language": "en", "text": "0.30 EUR per kWh"}
    # A typical AC session (11 kWh in 2 h): 11 x 0.30 = 3.30 at cost, plus Ann's 20 %: 3.96, VAT 21 % on it.
    totals = line_totals(D("3.96"), D("21"))
    assert ac_connector["price"] == {
        "currency": "EUR", "excl_vat": "3.96", "vat": str(totals.vat), "incl_vat": str(totals.incl_vat),
        "plan": "Flex", "energy_kwh": "11.0000", "minutes": 120,
    }  # fmt: skip
    assert ac_connector["price_unavailable"] is None
    # No tariff held for the DC connector: no price, and why, in the app's words.
    assert (dc_connector["price"], dc_connector["tariff_text"]) == (None, [])
    assert "not known" in dc_connector["price_unavailable"]

    bobs = signed_in(bob).get(f"/api/v1/chargers/locations/{location.pk}").json()
    assert bobs["evses"][0]["connectors"][0]["price"]["excl_vat"] == "3.47"  # 3.30 + 5 % = 3.465, his plan
    assert bobs["evses"][0]["connectors"][0]["price"]["plan"] == "Plus"


def test_signed_out_callers_are_refused(cpo: Partner) -> None:
    location = a_location(cpo, "Here", HERE)
    anonymous = APIClient()
    for url in ("/api/v1/chargers/near?lat=52&lon=5", "/api/v1/chargers/map?south=51&west=4&north=53&east=6&zoom=9",
                f"/api/v1/chargers/locations/{location.pk}"):  # fmt: skip
        reply = anonymous.get(url)
        assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated"), url


def test_the_schema_documents_the_charger_operations(client: Any) -> None:
    paths = client.get("/api/v1/schema/?format=json").json()["paths"]
    near_op = paths["/api/v1/chargers/near"]["get"]
    params = {p["name"] for p in near_op["parameters"]}
    assert {"lat", "lon", "radius", "standard", "min_power_kw", "current", "available", "partner", "operator", "q",
            "page", "page_size"} <= params  # fmt: skip
    assert {"south", "west", "north", "east", "zoom", "standard"} <= {
        p["name"] for p in paths["/api/v1/chargers/map"]["get"]["parameters"]
    }
    location_op = paths["/api/v1/chargers/locations/{location_id}"]["get"]
    assert {"200", "401", "404"} <= set(location_op["responses"])
    assert location_op["responses"]["200"]["content"]["application/json"]["examples"]


def test_near_me_lists_the_nearest_that_pass_however_many_are_read_at_once(
    app: APIClient, cpo: Partner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(6):
        a_location(cpo, f"AC {n}", (52.0 + n * 0.001, 5.0))
    a_location(cpo, "DC far", (52.01, 5.0), evses=(("AVAILABLE", [CCS_50]),))
    a_location(cpo, "DC farther", (52.02, 5.0), evses=(("AVAILABLE", [CCS_50]),))
    expected = ["DC far", "DC farther"]
    assert names(near(app, current="DC")) == expected
    # Fewer candidates read at once than it takes to find them: the database then checks the whole circle.
    monkeypatch.setattr("roaming.selectors_chargers.CANDIDATES", 3)
    assert names(near(app, current="DC")) == expected
    assert names(near(app)) == [f"AC {n}" for n in range(6)] + expected
    nearest_two = locations_near(latitude=HERE[0], longitude=HERE[1], radius_m=5000, limit=2)
    assert [Location.objects.get(pk=n.location_id).name for n in nearest_two] == ["AC 0", "AC 1"]
