"""The simulator speaking OCPI 2.3.0 (`ocpi_version="2.3.0"`) and invoicing monthly with 2.3.0 invoice
reconciliation records, driven over HTTP on loopback.

A small EMSP written here from the 2.3.0 specification plays the other side (it lists 2.3.0 and/or 2.2.1, and
may route 2.3.0 without listing it, as ours does); the shapes the simulator serves and pushes are compared with
the official 2.3.0 examples (OCPI_EXAMPLES_DIR, see tests/examples.py).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from cposim import Hub, HubConfig, InvoicingError, Simulator
from cposim.__main__ import build_parser, config_from, main
from tests.cposim.conftest import Client, FakeEmsp, Received, serving
from tests.examples import example

# A Thursday late in November: sessions before and after the turn of the month.
NOVEMBER = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
VAT = {"NLD": 21, "BEL": 21, "DEU": 19}  # the simulator's regions
RECORD_FIELDS = {"country_code", "party_id", "id", "invoice_id", "cdrs", "last_updated"}
DRIVER = {
    "country_code": "NL",
    "party_id": "EMS",
    "uid": "04A1B2C3",
    "type": "RFID",
    "contract_id": "NL-EMS-C00000001-0",
}


def ex(name: str) -> Any:
    return example(name, "2.3.0")


@dataclass
class Emsp230(FakeEmsp):
    """The fake EMSP of conftest, speaking 2.3.0 too: `listed` are the versions in its versions list, `routed`
    those it serves details for (a version can be routed without being listed); 2.3.0 has an
    invoicereconciliation Receiver keeping what it is sent."""

    listed: tuple[str, ...] = ("2.3.0", "2.2.1")
    routed: tuple[str, ...] = ("2.3.0", "2.2.1")
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def versions(self) -> list[dict[str, str]]:
        return [{"version": v, "url": f"{self.base_url}/emsp/{v}"} for v in self.listed]

    def register_at(self, sim: Simulator | Hub) -> dict[str, Any]:
        """Act as the initiator, at the simulator's credentials of the first version we list that it lists."""
        token_b = self.accepted_token = "emsp-token-b"
        headers = token_header(sim.token_a)
        offered = {v["version"]: v["url"] for v in data(requests.get(sim.versions_url, headers=headers, timeout=5))}
        version = next(v for v in self.listed if v in offered)
        details = data(requests.get(offered[version], headers=headers, timeout=5))
        url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        answer = requests.post(url, json=self.credentials(token_b), headers=headers, timeout=5).json()
        assert answer["status_code"] == 1000, answer
        self.token_for_sim = answer["data"]["token"]
        return dict(answer["data"])

    def details_230(self) -> dict[str, Any]:
        details = self.details()
        url = f"{self.base_url}/emsp/2.3.0"
        endpoints = [{**e, "url": e["url"].replace("/emsp/2.2.1", "/emsp/2.3.0")} for e in details["endpoints"]]
        endpoints.append(
            {"identifier": "invoicereconciliation", "role": "RECEIVER", "url": f"{url}/invoicereconciliation"}
        )
        return {"version": "2.3.0", "endpoints": endpoints}

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any):
        if path == "/emsp/2.3.0" and "2.3.0" in self.routed:
            self.received.append(Received(method, path, query, headers, body))
            return 200, self.envelope(self.details_230()), {}
        if path == "/emsp/2.2.1" and "2.2.1" not in self.routed:
            self.received.append(Received(method, path, query, headers, body))
            return 404, self.envelope(status_code=3002), {}
        if path.startswith("/emsp/2.3.0/invoicereconciliation"):
            self.received.append(Received(method, path, query, headers, body))
            tail = path.removeprefix("/emsp/2.3.0/invoicereconciliation").strip("/")
            if tail and tail != "/".join((body["country_code"], body["party_id"], body["id"])):
                return 200, self.envelope(status_code=2001), {}
            created = body["id"] not in self.records
            self.records[body["id"]] = body
            return (201 if created else 200), self.envelope(), {}
        # Everything else as the 2.2.1 EMSP does it (same paths below the version), recorded as it came.
        reply = super().handle(method, path.replace("/emsp/2.3.0/", "/emsp/2.2.1/"), query, headers, body)
        self.received[-1].path = path
        return reply


@pytest.fixture
def make_emsp() -> Iterator[Callable[..., Emsp230]]:
    opened: list[Any] = []

    def make(**options: Any) -> Emsp230:
        context = serving(Emsp230(**options))
        opened.append(context)
        fake = context.__enter__()
        assert isinstance(fake, Emsp230)
        return fake

    yield make
    for context in opened:
        context.__exit__(None, None, None)


@pytest.fixture
def emsp230(make_emsp: Callable[..., Emsp230]) -> Emsp230:
    return make_emsp()


@pytest.fixture
def sim230(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim(ocpi_version="2.3.0", start_time=NOVEMBER)


@pytest.fixture
def linked230(sim230: Simulator, emsp230: Emsp230) -> tuple[Simulator, Emsp230]:
    sim230.register_with(f"{emsp230.base_url}/emsp/versions", emsp230.token_a)
    emsp230.received.clear()
    return sim230, emsp230


@pytest.fixture
def client230(linked230: tuple[Simulator, Emsp230]) -> Client:
    sim = linked230[0]
    assert sim.inbound_token
    return Client(sim, sim.inbound_token)


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def data(response: requests.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def charge(sim: Simulator, location_id: str, seconds: int = 1800) -> dict[str, Any]:
    """A whitelisted session at the location's first EVSE, stopped after `seconds`; returns the CDR."""
    session = sim.start_session(location_id, sim.location(location_id)["evses"][0]["uid"], token=DRIVER)
    sim.advance(seconds)
    return sim.stop_session(session["id"])


def assert_price(value: dict[str, Any], own: dict[str, Any], percentage: int) -> None:
    """A 2.3.0 Price (keys as in the official session example) for the simulator's own {excl_vat, incl_vat}."""
    reference = ex("sessions/session_example_2_short_finished.json")["total_cost"]
    assert set(value) == set(reference)
    [tax] = value["taxes"]
    assert set(reference["taxes"][0]) <= set(tax) <= {"name", "account_number", "percentage", "amount"}
    assert (tax["name"], tax["percentage"]) == ("VAT", percentage)
    assert Decimal(str(value["before_taxes"])) == own["excl_vat"]
    assert Decimal(str(tax["amount"])) == own["incl_vat"] - own["excl_vat"]


# versions and credentials -----------------------------------------------------------------------


def test_versions_and_details_list_230_with_the_invoice_reconciliation_sender(sim230: Simulator) -> None:
    headers = token_header(sim230.token_a)
    versions = data(requests.get(sim230.versions_url, headers=headers, timeout=5))
    assert versions == [{"version": "2.3.0", "url": f"{sim230.base_url}/ocpi/2.3.0"}]
    assert {frozenset(v) for v in versions} == {frozenset(v) for v in ex("versions/versions_info_example.json")}
    details = data(requests.get(sim230.version_url, headers=headers, timeout=5))
    assert details["version"] == "2.3.0"
    assert {frozenset(e) for e in details["endpoints"]} == {
        frozenset(e) for e in ex("versions/version_details_example.json")["endpoints"]
    }
    assert {(e["identifier"], e["role"]) for e in details["endpoints"]} == {
        ("credentials", "SENDER"),
        *((m, "SENDER") for m in ("locations", "tariffs", "sessions", "cdrs", "invoicereconciliation")),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("invoicereconciliation", "RECEIVER"),  # reverse billing: the EMSP's records of its invoices to us
    }
    other = requests.get(f"{sim230.base_url}/ocpi/2.2.1", headers=headers, timeout=5)
    assert (other.status_code, other.json()["status_code"]) == (404, 3002)


def test_the_simulator_registers_in_230_with_the_example_credentials(sim230: Simulator, emsp230: Emsp230) -> None:
    sim230.register_with(f"{emsp230.base_url}/emsp/versions", emsp230.token_a)
    assert sim230.ocpi_version == "2.3.0"  # the higher of the two the EMSP lists
    assert [r.path for r in emsp230.received if r.method == "GET"][:2] == ["/emsp/versions", "/emsp/2.3.0"]
    post = emsp230.calls("POST", "/credentials")[0]
    assert post.path == "/emsp/2.3.0/credentials"
    assert set(post.body) == set(ex("credentials/credentials_example.json"))  # no hub_party_id: not a hub
    assert [(r["role"], r["country_code"], r["party_id"]) for r in post.body["roles"]] == [("CPO", "NL", "SIM")]
    sim230.push_location("LOC000001")
    assert emsp230.calls("PUT", "/locations/")[-1].path == "/emsp/2.3.0/locations/NL/SIM/LOC000001"


def test_listing_221_too_lets_the_emsp_pick_and_the_simulator_speaks_what_was_picked(
    make_sim: Callable[..., Simulator], make_emsp: Callable[..., Emsp230]
) -> None:
    both = make_sim(ocpi_version="2.3.0", also_versions=("2.2.1",), start_time=NOVEMBER)
    listed = data(requests.get(both.versions_url, headers=token_header(both.token_a), timeout=5))
    assert [v["version"] for v in listed] == ["2.3.0", "2.2.1"]
    details = data(requests.get(listed[1]["url"], headers=token_header(both.token_a), timeout=5))
    assert details["version"] == "2.2.1"
    assert "invoicereconciliation" not in {e["identifier"] for e in details["endpoints"]}

    # An EMSP of 2.2.1 only registers with us at our 2.2.1 credentials: from then on we speak 2.2.1.
    old = make_emsp(listed=("2.2.1",), routed=("2.2.1",))
    answer = old.register_at(both)
    assert "hub_party_id" not in answer
    assert both.ocpi_version == "2.2.1"
    client = Client(both, answer["token"])
    tariffs = data(client.get("/tariffs"))
    assert "tax_included" not in tariffs[0]
    assert client.get(f"{both.base_url}/ocpi/2.3.0/tariffs").json()["status_code"] == 3002
    both.unregister()
    assert both.ocpi_version == "2.3.0"

    # We register with an EMSP listing both: we pick 2.3.0; with one listing 2.2.1 only: 2.2.1, and push 2.2.1.
    new = make_emsp()
    both.register_with(f"{new.base_url}/emsp/versions", new.token_a)
    assert both.ocpi_version == "2.3.0"
    both.unregister()
    both.register_with(f"{old.base_url}/emsp/versions", old.token_a)
    assert both.ocpi_version == "2.2.1"
    cdr = charge(both, "LOC000002")
    posted = old.calls("POST", "/cdrs")[-1]
    assert posted.path == "/emsp/2.2.1/cdrs"
    assert set(posted.body["total_cost"]) == {"excl_vat", "incl_vat"}
    assert posted.body["id"] == cdr["id"]


# what the simulator serves and pushes ------------------------------------------------------------


def test_pulled_locations_have_parking_places_and_values_2_2_1_does_not_know(client230: Client) -> None:
    locations = data(client230.get("/locations"))
    reference = ex("locations/location_example.json")
    place_keys = set().union(*(set(p) for p in reference["parking_places"]))
    with_places = [loc for loc in locations if "parking_places" in loc]
    assert 0 < len(with_places) < len(locations)  # some, not all
    for location in with_places:
        assert location["parking_type"] in ("PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT")
        ids = {p["id"] for p in location["parking_places"]}
        for place in location["parking_places"]:
            assert place_keys <= set(place)
            assert place["vehicle_types"] == ["PERSONAL_VEHICLE"]
        for evse in location["evses"]:
            assert {frozenset(p) for p in evse["parking"]} == {frozenset(p) for p in reference["evses"][0]["parking"]}
            assert {p["parking_id"] for p in evse["parking"]} <= ids
    assert all("parking" not in e for loc in locations if "parking_places" not in loc for e in loc["evses"])
    connectors = [c for loc in locations for e in loc["evses"] for c in e["connectors"]]
    mcs = [c for c in connectors if c["standard"] == "MCS"]
    assert mcs
    assert all(c["power_type"] == "DC" for c in mcs)
    assert any(c.get("capabilities") == ["ISO_15118_20_PLUG_AND_CHARGE"] for c in connectors)
    # An EVSE read on its own carries the same parking references as inside its location.
    first = with_places[0]
    evse = data(client230.get(f"/locations/{first['id']}/{first['evses'][0]['uid']}"))
    assert evse == first["evses"][0]
    # So is a connector 2.2.1 does not have.
    location_id, evse_uid, connector = next(
        (loc["id"], e["uid"], c)
        for loc in locations
        for e in loc["evses"]
        for c in e["connectors"]
        if c["standard"] == "MCS"
    )
    assert data(client230.get(f"/locations/{location_id}/{evse_uid}/{connector['id']}")) == connector


def test_tariffs_say_tax_included_and_carry_2_3_0_prices(client230: Client, make_sim: Callable[..., Simulator]) -> None:
    tariffs = {t["id"]: t for t in data(client230.get("/tariffs"))}
    reference = ex("tariffs/tariff_1_simple_2hour.json")
    for tariff in tariffs.values():
        assert tariff["tax_included"] == "NO"
        assert set(reference) - {"country_code"} <= set(tariff)
    own = client230.sim.tariff("NL-AC-TIME")
    capped = tariffs["NL-AC-TIME"]
    # The Price type of 2.3.0 is {before_taxes, taxes}; the tariff examples with a max_price still show an
    # `after_taxes` (tariff_6, tariff_12), which the type does not have.
    assert set(ex("tariffs/tariff_6_025kwh_start_max_price.json")["max_price"]) - {"after_taxes"} <= set(
        capped["max_price"]
    )
    assert_price(capped["max_price"], own["max_price"], 21)
    assert capped["elements"] == [
        {
            "price_components": [
                {**c, "price": float(c["price"]), "vat": 21} for c in own["elements"][0]["price_components"]
            ]
        }
    ]

    # Configured YES: a component with a VAT rate is sent with VAT added.
    gross = make_sim(ocpi_version="2.3.0", tax_included="YES", start_time=NOVEMBER)
    tariff = gross.wire.tariff(gross.tariff("DE-AC"))
    [component] = tariff["elements"][0]["price_components"]
    net = gross.tariff("DE-AC")["elements"][0]["price_components"][0]["price"]
    assert (tariff["tax_included"], component["price"]) == ("YES", (net * Decimal("1.19")).quantize(Decimal("0.0001")))


def test_sessions_and_cdrs_carry_the_2_3_0_price(linked230: tuple[Simulator, Emsp230], client230: Client) -> None:
    sim, emsp = linked230
    session = sim.start_session("LOC000002", sim.location("LOC000002")["evses"][0]["uid"], token=DRIVER)
    sim.advance(1200)
    patch = emsp.calls("PATCH", "/sessions/")[-1].body
    own = sim.session(session["id"])
    assert own is not None
    vat = VAT[sim.location("LOC000002")["country"]]
    assert_price(patch["total_cost"], own["total_cost"], vat)
    assert set(patch) == set(ex("sessions/session_patch_example_charging_period.json"))

    cdr = sim.stop_session(session["id"])
    posted = emsp.calls("POST", "/cdrs")[-1].body
    reference = ex("cdrs/cdr_example.json")
    assert set(reference) - {"total_time_cost"} <= set(posted)
    parts = [key for key in cdr if key.startswith("total_") and key.endswith("_cost") and key != "total_cost"]
    assert parts
    for key in ("total_cost", *parts):
        assert_price(posted[key], cdr[key], vat)
    assert posted["tariffs"][0]["tax_included"] == "NO"
    # The Sender lists hold the same objects.
    assert data(client230.get("/cdrs")) == [posted]
    [listed] = data(client230.get("/sessions", params={"date_from": "2026-01-01T00:00:00Z"}))
    assert_price(listed["total_cost"], cdr["total_cost"], vat)


# invoicing ------------------------------------------------------------------------------------


def two_months(sim: Simulator) -> tuple[list[str], list[str]]:
    """Three CDRs sent in November 2026, then two in December; returns their ids by month."""
    november = [charge(sim, f"LOC00000{n}")["id"] for n in (1, 2, 4)]
    sim.clock.advance(7 * 86_400)  # into December
    december = [charge(sim, f"LOC00000{n}")["id"] for n in (5, 7)]
    return november, december


def test_monthly_invoicing_pushes_one_record_per_month_and_serves_them_for_a_pull(
    linked230: tuple[Simulator, Emsp230], client230: Client
) -> None:
    sim, emsp = linked230
    november, december = two_months(sim)

    invoice = sim.run_monthly_invoicing("2026-11")
    assert invoice.pushed
    assert not invoice.lookups  # the EMSP's 2.3.0 details named its Receiver
    record = invoice.record
    assert set(record) == RECORD_FIELDS
    assert (record["id"], record["invoice_id"], record["cdrs"]) == ("IR-2026-11", "INV-2026-11", november)
    assert (record["country_code"], record["party_id"]) == ("NL", "SIM")
    post = emsp.calls("POST", "/invoicereconciliation")[-1]
    assert (post.path, post.body) == ("/emsp/2.3.0/invoicereconciliation", record)
    assert (post.headers["OCPI-from-party-id"], post.headers["OCPI-to-party-id"]) == ("SIM", "EMS")

    december_invoice = sim.run_monthly_invoicing("2026-12")
    assert december_invoice.record["cdrs"] == december
    assert emsp.records == {"IR-2026-11": record, "IR-2026-12": december_invoice.record}

    # Invoicing a month again replaces its record: a PUT at the record's URL, newer than the first.
    again = sim.run_monthly_invoicing("2026-11")
    put = emsp.calls("PUT", "/invoicereconciliation")[-1]
    assert put.path == "/emsp/2.3.0/invoicereconciliation/NL/SIM/IR-2026-11"
    assert again.record["last_updated"] > record["last_updated"]

    # Our Sender interface: paged, filtered on last_updated like every list.
    url = f"{sim.base_url}/ocpi/2.3.0/invoicereconciliation"
    first = client230.get(url, params={"limit": 1})
    assert first.status_code == 200
    assert (first.json()["data"], first.headers["X-Total-Count"]) == ([again.record], "2")
    assert first.headers["Link"].startswith(f"<{url}?")
    assert data(client230.get(first.headers["Link"][1:].split(">")[0])) == [december_invoice.record]
    later = data(client230.get(url, params={"date_from": again.record["last_updated"]}))
    assert later == [again.record]
    assert data(client230.get(url, params={"date_to": december_invoice.record["last_updated"]})) == []


def test_invoicing_faults_name_an_unsent_cdr_leave_one_out_and_name_one_twice(
    linked230: tuple[Simulator, Emsp230],
) -> None:
    sim, emsp = linked230
    november, december = two_months(sim)
    with pytest.raises(InvoicingError, match="no earlier invoice"):
        sim.run_monthly_invoicing("2026-11", ["double"])
    with pytest.raises(InvoicingError, match="unknown faults"):
        sim.run_monthly_invoicing("2026-11", ["late"])
    with pytest.raises(InvoicingError, match="nothing to invoice"):
        sim.run_monthly_invoicing("2026-10")
    assert not emsp.records

    sim.run_monthly_invoicing("2026-11")
    faulty = sim.run_monthly_invoicing("2026-12", ["unknown_cdr", "left_out", "double"])
    assert (faulty.unknown_cdr, faulty.left_out, faulty.double) == ("CDR-UNSENT-2026-12", december[-1], november[-1])
    assert faulty.sent == december
    assert emsp.records["IR-2026-12"]["cdrs"] == [december[0], november[-1], "CDR-UNSENT-2026-12"]
    assert sim.cdr("CDR-UNSENT-2026-12") is None


def test_a_simulator_speaking_221_finds_the_230_receiver_listed_or_not(
    make_sim: Callable[..., Simulator], make_emsp: Callable[..., Emsp230]
) -> None:
    sim = make_sim(start_time=NOVEMBER)  # OCPI 2.2.1
    # The EMSP lists 2.3.0: its details are read from the versions list.
    listing = make_emsp()
    sim.register_with(f"{listing.base_url}/emsp/versions", listing.token_a)
    assert sim.ocpi_version == "2.2.1"
    charge(sim, "LOC000001")
    invoice = sim.run_monthly_invoicing("2026-11")
    assert [c.url.removeprefix(listing.base_url) for c in invoice.lookups] == ["/emsp/versions", "/emsp/2.3.0"]
    assert invoice.pushed
    assert listing.records["IR-2026-11"] == invoice.record
    sim.unregister()

    # Routed but not listed (as our platform does): the 2.2.1 details URL with the version swapped.
    hidden = make_emsp(listed=("2.2.1",))
    sim.register_with(f"{hidden.base_url}/emsp/versions", hidden.token_a)
    again = sim.run_monthly_invoicing("2026-11")
    assert [c.url.removeprefix(hidden.base_url) for c in again.lookups] == ["/emsp/versions", "/emsp/2.3.0"]
    assert again.pushed
    assert hidden.records["IR-2026-11"]["cdrs"] == invoice.record["cdrs"]
    sim.unregister()

    # No 2.3.0 at all: nothing pushed, the record is still on our Sender for a pull.
    none = make_emsp(listed=("2.2.1",), routed=("2.2.1",))
    sim.register_with(f"{none.base_url}/emsp/versions", none.token_a)
    assert not sim.run_monthly_invoicing("2026-11").pushed
    client = Client(sim, sim.inbound_token or "")
    assert [r["id"] for r in data(client.get(f"{sim.base_url}/ocpi/2.3.0/invoicereconciliation"))] == ["IR-2026-11"]
    assert client.get(f"{sim.base_url}/ocpi/2.3.0/locations").json()["status_code"] == 3002


def test_the_control_endpoint_and_the_cli_run_the_invoicing(
    linked230: tuple[Simulator, Emsp230], capsys: pytest.CaptureFixture[str]
) -> None:
    sim, emsp = linked230
    cdr = charge(sim, "LOC000001")
    url = f"{sim.base_url}/control/invoicing/2026-11"
    refused = requests.post(url, headers=token_header(sim.inbound_token or ""), timeout=5)
    assert refused.status_code == 401  # the EMSP's token is no operator's key
    answer = requests.post(
        url, params={"faults": "unknown_cdr"}, headers={"Authorization": f"Token {sim.token_a}"}, timeout=5
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()["data"]
    assert (body["record"]["cdrs"], body["pushed"]) == ([cdr["id"], "CDR-UNSENT-2026-11"], True)
    bad = requests.post(
        f"{sim.base_url}/control/invoicing/2026-13", headers={"Authorization": f"Token {sim.token_a}"}, timeout=5
    )
    assert (bad.status_code, bad.json()["status_code"]) == (400, 2001)

    assert main(["invoice", "--url", sim.base_url, "--token", sim.token_a, "--month", "2026-11"]) == 0
    assert '"IR-2026-11"' in capsys.readouterr().out
    assert emsp.records["IR-2026-11"]["cdrs"] == [cdr["id"]]


def test_the_receiver_keeps_the_emsps_records_of_its_invoices_to_us(client230: Client) -> None:
    sim = client230.sim
    party = sim.credentials.peer_party()
    assert party is not None
    record = {
        "country_code": party[0],
        "party_id": party[1],
        "id": "CRC-2026-000001",
        "invoice_id": "CRC-2026-000001",
        "cdrs": ["CDR000001"],
        "last_updated": "2026-12-01T10:00:00Z",
    }
    at = f"/invoicereconciliation/{party[0]}/{party[1]}/CRC-2026-000001"
    created = client230.request("POST", "/invoicereconciliation", json=record)
    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    newer = record | {"cdrs": ["CDR000001", "CDR000002"], "last_updated": "2026-12-02T10:00:00Z"}
    assert client230.request("PUT", at, json=newer).status_code == 200
    stale = client230.request("PUT", at, json=record)
    assert "Not applied" in stale.json()["status_message"]
    assert data(client230.get(at)) == newer
    assert sim.received_invoice_records() == [newer]
    control = requests.get(
        f"{sim.base_url}/control/invoicing/received", headers={"Authorization": f"Token {sim.token_a}"}, timeout=5
    )
    assert data(control) == [newer]

    elsewhere = client230.request("PUT", "/invoicereconciliation/DE/OTH/X", json=record | {"country_code": "DE"})
    assert elsewhere.status_code == 404  # not the EMSP's party
    mismatch = client230.request("PUT", at.replace("000001", "000009"), json=newer)
    assert (mismatch.status_code, mismatch.json()["status_code"]) == (400, 2001)
    assert client230.request("POST", "/invoicereconciliation", json=record | {"cdrs": []}).status_code == 400
    assert client230.request("DELETE", at).status_code == 200
    assert client230.get(at).status_code == 404
    assert sim.received_invoice_records() == []


def test_flags_and_config() -> None:
    args = build_parser().parse_args(
        ["serve", "--ocpi-version", "2.3.0", "--also-version", "2.2.1", "--tax-included", "YES"]
    )
    config = config_from(args)
    assert (config.ocpi_version, config.also_versions, config.tax_included) == ("2.3.0", ("2.2.1",), "YES")
    with pytest.raises(ValueError, match=r"not 2\.1\.1"):
        Simulator(
            config_from(build_parser().parse_args(["serve", "--ocpi-version", "2.3.0", "--also-version", "2.1.1"]))
        )


# the hub --------------------------------------------------------------------------------------


def test_a_230_hub_lists_its_parties_in_roles_and_names_itself_in_hub_party_id(emsp230: Emsp230) -> None:
    with Hub(HubConfig(cpos=2, locations=3, ocpi_version="2.3.0", start_time=NOVEMBER, request_timeout=5.0)) as hub:
        hub.register_with(f"{emsp230.base_url}/emsp/versions", emsp230.token_a)
        post = emsp230.calls("POST", "/credentials")[0]
        assert post.path == "/emsp/2.3.0/credentials"
        assert post.body["hub_party_id"] == "NLHUB"
        assert [(r["role"], r["country_code"], r["party_id"]) for r in post.body["roles"]] == [
            ("CPO", "NL", "AAA"),
            ("CPO", "BE", "BBB"),
        ]
        assert set(post.body) - {"hub_party_id"} == set(ex("credentials/credentials_example4.json"))
        # The CPOs behind it speak 2.3.0 as well: their CDRs reach the EMSP with the 2.3.0 Price.
        cpo = hub.cpos[0]
        charge(cpo, cpo.location_ids()[0])
        hub.flush()
        cdr = emsp230.calls("POST", "/cdrs")[-1]
        assert cdr.path == "/emsp/2.3.0/cdrs"
        assert cdr.headers["OCPI-from-party-id"] == "AAA"
        assert set(cdr.body["total_cost"]) == {"before_taxes", "taxes"}
        # A CPO's invoice reconciliation record is relayed to the EMSP like its other pushes.
        invoice = cpo.run_monthly_invoicing("2026-11")
        assert invoice.pushed
        relayed = emsp230.calls("POST", "/invoicereconciliation")[-1]
        assert (relayed.body, relayed.headers["OCPI-from-party-id"]) == (invoice.record, "AAA")
        assert emsp230.records == {"IR-2026-11": invoice.record}
