"""The price before charging through the API: the figures of `price_estimate`, found by our connector id or by
the ids the app sees on a location, with its defaults, and the errors the app must tell apart."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from billing.charges import plan_subscribe
from billing.estimates import price_estimate
from billing.models import PlanPriceRule, RetailPlan
from drivers.models import Driver
from roaming.models import Connector, EvseStatus, Location
from tests.api.conftest import signed_in
from tests.billing.conftest import cpo, held_tariff, location_body, ocpi  # noqa: F401 - fixtures used here
from tests.billing.factories import a_driver, a_plan
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def connector(ocpi: OcpiTestClient, held_tariff: dict[str, Any]) -> Connector:  # noqa: F811
    """Gent Zuid's EVSE 3256 connector 1 (AC, 3.5 kW), priced by the held tariff T12 (0.25/kWh, 2.00/h, 10 % VAT)."""
    body = copy.deepcopy(location_body())
    body["evses"][0]["connectors"][0]["tariff_ids"] = ["T12"]
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", body).status_code == 1000
    return Connector.objects.select_related("evse__location").get(evse__uid="3256", ocpi_id="1")


@pytest.fixture
def driver(db: None) -> Driver:
    """Ann, on a cost-plus plan with every kind of fee."""
    ann = a_driver("Ann Smit")
    plan = a_plan(
        "Flex",
        markup_percent=D("15"),
        markup_per_kwh=D("0.02"),
        session_fee=D("0.35"),
        idle_fee_per_minute=D("0.10"),
        idle_grace_minutes=15,
    )
    plan_subscribe(driver=ann, plan=plan, at=timezone.now() - timedelta(days=30))
    return ann


def _start() -> datetime:
    return (timezone.now() + timedelta(hours=2)).replace(microsecond=0)


def test_the_price_is_what_price_estimate_gives(connector: Connector, driver: Driver) -> None:
    start = _start()
    query: dict[str, Any] = {"energy_kwh": "12.5", "minutes": 90, "parking_minutes": 45, "start": start.isoformat()}

    reply = signed_in(driver).get("/api/v1/price", {"connector": connector.pk, **query})

    assert reply.status_code == 200, reply.json()
    estimate = price_estimate(
        connector=connector,
        driver=driver,
        energy_kwh=D("12.5"),
        duration=timedelta(minutes=90),
        parking=timedelta(minutes=45),
        at=start,
    )
    body = reply.json()
    assert body == {
        "connector": connector.pk,
        "location": connector.evse.location_id,
        "evse_uid": "3256",
        "connector_id": "1",
        "power_class": "AC",
        "plan": {"id": estimate.plan.pk, "name": "Flex"},
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "energy_kwh": "12.5000",
        "minutes": 90,
        "parking_minutes": 45,
        "currency": "EUR",
        "total_excl_vat": str(estimate.totals.excl_vat),
        "vat_rate": "21.00",  # the driver's country (NL), not the charger's
        "vat": str(estimate.totals.vat),
        "total_incl_vat": str(estimate.incl_vat),
        "lines": estimate.retail.lines_json(),
        "notes": [],
    }
    # T12 prices 12.5 kWh and 1.5 h at 6.13; + 15 % + 12.5 x 0.02 + 0.35 + (45 - 15) x 0.10 = 10.6495
    assert (body["total_excl_vat"], body["vat"], body["total_incl_vat"]) == ("10.65", "2.24", "12.89")
    assert [line["kind"] for line in body["lines"]] == ["cost", "markup", "per_kwh", "session_fee", "idle_fee"]

    by_ids = signed_in(driver).get(
        "/api/v1/price",
        {"location": connector.evse.location_id, "evse_uid": "3256", "connector_id": "1", **query},
    )
    assert by_ids.json() == body


def test_without_energy_or_time_the_power_class_defaults_apply(connector: Connector, driver: Driver) -> None:
    plus = a_plan("Plus", basis=RetailPlan.Basis.OWN_PRICES, session_fee=D("0.50"))
    PlanPriceRule.objects.create(plan=plus, power_class="AC", price_per_kwh=D("0.45"), price_per_hour=D("1.00"))
    app = signed_in(driver)
    assert app.put("/api/v1/me/plan", {"plan": plus.pk}, format="json").status_code == 200

    reply = app.get("/api/v1/price", {"connector": connector.pk})  # at once: under the new plan

    assert reply.status_code == 200
    body = reply.json()
    assert (body["power_class"], body["energy_kwh"], body["minutes"], body["parking_minutes"]) == (
        "AC",
        "11.0000",
        120,
        0,
    )
    # 11 kWh x 0.45 + 2 h x 1.00 + 0.50 = 7.45, + 21 % VAT
    assert (body["plan"]["name"], body["total_excl_vat"], body["total_incl_vat"]) == ("Plus", "7.45", "9.01")
    estimate = price_estimate(connector=connector, driver=driver)
    assert body["lines"] == estimate.retail.lines_json()


def test_a_connector_a_driver_may_not_see_is_not_found(connector: Connector, driver: Driver) -> None:
    app = signed_in(driver)

    def status(**query: Any) -> tuple[int, str]:
        reply = app.get("/api/v1/price", query)
        return reply.status_code, reply.json().get("error", {}).get("code", "")

    location_id = connector.evse.location_id
    assert status(connector=connector.pk)[0] == 200
    assert status(connector=999_999) == (404, "no_connector")
    assert status(location=location_id, evse_uid="3256", connector_id="9") == (404, "no_connector")
    assert status(location=location_id, evse_uid="NOPE", connector_id="1") == (404, "no_connector")

    Connector.objects.filter(pk=connector.pk).update(removed_at=timezone.now())
    assert status(connector=connector.pk) == (404, "no_connector")
    Connector.objects.filter(pk=connector.pk).update(removed_at=None)
    type(connector.evse).objects.filter(pk=connector.evse_id).update(status=EvseStatus.REMOVED)
    assert status(connector=connector.pk) == (404, "no_connector")
    type(connector.evse).objects.filter(pk=connector.evse_id).update(status=EvseStatus.AVAILABLE)
    Location.objects.filter(pk=location_id).update(publish=False)
    assert status(connector=connector.pk) == (404, "no_connector")
    assert status(location=location_id, evse_uid="3256", connector_id="1") == (404, "no_connector")
    Location.objects.filter(pk=location_id).update(publish=True, removed_at=timezone.now())
    assert status(connector=connector.pk) == (404, "no_connector")


def test_no_price_without_a_plan_or_a_known_tariff(connector: Connector) -> None:
    app = signed_in(a_driver("Bob Jansen"))  # never chose a plan, and there is no default plan

    no_plan = app.get("/api/v1/price", {"connector": connector.pk})

    assert no_plan.status_code == 422
    assert no_plan.json()["error"] | {} == {
        "type": "unprocessable",
        "code": "no_plan",
        "message": "You have no plan yet: choose one to see prices.",
    }
    a_plan("Flex", markup_percent=D("10"), is_default=True)
    assert app.get("/api/v1/price", {"connector": connector.pk}).status_code == 200
    Connector.objects.filter(pk=connector.pk).update(tariff_ids=["NOT-HELD"])
    no_tariff = app.get("/api/v1/price", {"connector": connector.pk})
    assert (no_tariff.status_code, no_tariff.json()["error"]["code"]) == (422, "no_tariff")


def test_the_connector_is_named_one_way_or_the_other(connector: Connector, driver: Driver) -> None:
    app = signed_in(driver)

    def fields(**query: Any) -> list[str]:
        reply = app.get("/api/v1/price", query)
        assert reply.status_code == 400
        return sorted(reply.json()["error"]["fields"])

    assert fields() == ["connector"]
    assert fields(location=connector.evse.location_id) == ["connector_id", "evse_uid"]
    assert fields(connector=connector.pk, evse_uid="3256") == ["evse_uid"]
    assert fields(connector=connector.pk, energy_kwh="-1", minutes=0) == ["energy_kwh", "minutes"]
    assert fields(connector=2**63) == ["connector"]  # not a database error
    too_late = (timezone.now() + timedelta(days=40)).isoformat()
    assert fields(connector=connector.pk, start=too_late) == ["start"]


def test_signed_out_callers_are_refused(connector: Connector) -> None:
    reply = APIClient().get("/api/v1/price", {"connector": connector.pk})
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")
