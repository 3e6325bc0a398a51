"""OCPI 2.3.0 on our side: every official example we receive parses and maps, the receivers store 2.3.0 objects
(parking places, tax_included, Prices with taxes) and serve them back, tokens/authorize/commands over 2.3.0, open
enum values we do not know are kept, a hub's hub_party_id, and version negotiation picking 2.3.0."""

from __future__ import annotations

import copy
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from drivers.models import Token
from drivers.services import token_issue
from roaming.models import Cdr, ChargingSession, Evse, Location, Partner, PartnerRole, Tariff
from roaming.ocpi.client import OcpiClientError
from roaming.ocpi.v2_2_1.types import parse_data
from roaming.ocpi.versions import WIRES, wire_for_version
from roaming.services.commands import command_start_session
from roaming.services.hubs import hub_clients_pull, partner_is_hub
from roaming.services.partners import discover, partner_invite
from tests.examples import example, examples_dir
from tests.roaming.conftest import OcpiTestClient
from tests.roaming.fakecpo import COMMANDS_URL, FakeCpo, _response, connect, install_fake_cpo, make_driver

pytestmark = pytest.mark.django_db

V = "/ocpi/2.3.0"
WIRE = WIRES["2.3.0"]
PARTY = ("BE", "BEC")


def ex(name: str) -> Any:
    return example(name, "2.3.0")


# --- every example we receive parses and maps ----------------------------------------------------------------

RECEIVED = {
    "locations/location_example*.json": (WIRE.Location, lambda m: WIRE.location_data(m, PARTY)),
    "locations/location_patch_example_location.json": (WIRE.LocationPatch, WIRE.location_patch_data),
    "locations/location_patch_example_remove_evse.json": (WIRE.EVSEPatch, WIRE.evse_patch_data),
    "locations/location_patch_example_status.json": (WIRE.EVSEPatch, WIRE.evse_patch_data),
    "locations/location_patch_example_tariff.json": (WIRE.ConnectorPatch, WIRE.connector_patch_data),
    "tariffs/tariff_[0-9]*.json": (WIRE.Tariff, lambda m: WIRE.tariff_data(m, PARTY)),
    "sessions/session_example_*.json": (WIRE.Session, lambda m: WIRE.session_data(m, PARTY)),
    "sessions/session_patch_example_*.json": (WIRE.SessionPatch, WIRE.session_patch_data),
    "cdrs/cdr_example.json": (WIRE.CDR, lambda m: WIRE.cdr_data(m, None, PARTY)),
    "credentials/credentials_example*.json": (WIRE.Credentials, WIRE.credentials_roles),
}


def _received() -> list[Any]:
    cases = []
    for pattern, (model, mapping) in RECEIVED.items():
        for path in sorted(examples_dir("2.3.0").glob(pattern)):
            cases.append(pytest.param(path.relative_to(examples_dir("2.3.0")).as_posix(), model, mapping, id=path.name))
    return cases


@pytest.mark.parametrize(("name", "model", "mapping"), _received())
def test_every_example_we_receive_parses_and_maps(name: str, model: Any, mapping: Any) -> None:
    parsed = parse_data(model, ex(name))
    assert mapping(parsed) is not None


@pytest.mark.parametrize(
    ("name", "model", "missing"),
    [
        # As published, the EVSE example's connector lacks power_type, voltages and last_updated (spec-facts §7),
        # and the tariff PUT example lacks last_updated: both are refused naming the field.
        ("locations/location_put_example_add_evse.json", WIRE.EVSE, "connectors.0.power_type"),
        ("tariffs/tariff_put_example.json", WIRE.Tariff, "last_updated"),
    ],
)
def test_the_incomplete_examples_are_refused_naming_the_field(name: str, model: Any, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        parse_data(model, ex(name))


def test_the_examples_are_there_to_be_tested() -> None:
    if not examples_dir("2.3.0").is_dir():
        pytest.skip("OCPI 2.3.0 examples not found (set OCPI_EXAMPLES_DIR)")
    assert len(_received()) == 38


# --- receivers over 2.3.0 -------------------------------------------------------------------------------------


def test_a_location_with_parking_places_is_stored_and_served_back(ocpi: OcpiTestClient) -> None:
    body = ex("locations/location_example.json")
    url = f"{V}/locations/{body['country_code']}/{body['party_id']}/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    location = Location.objects.get()
    assert [p["id"] for p in location.extra["parking_places"]] == [p["id"] for p in body["parking_places"]]
    evse = Evse.objects.get(location=location, uid=body["evses"][0]["uid"])
    assert evse.extra["parking"] == body["evses"][0]["parking"]
    served = ocpi.get(url).data
    assert served["parking_places"] == body["parking_places"]
    assert [e["parking"] for e in served["evses"]] == [e["parking"] for e in body["evses"]]


def test_unknown_open_enum_values_are_kept_and_shown(ocpi: OcpiTestClient) -> None:
    body = copy.deepcopy(ex("locations/location_example.json"))
    body["facilities"] = ["HOTEL", "SPACEPORT"]
    body["parking_type"] = "ROOFTOP_DECK"
    evse = body["evses"][0]
    evse["capabilities"] = ["RFID_READER", "V2G_CAPABLE"]
    evse["parking_restrictions"] = ["TAXIS", "DELIVERY_VANS"]
    evse["connectors"][0]["standard"] = "MCS"
    evse["connectors"][1]["standard"] = "FUTURE_PLUG"
    evse["connectors"][0]["capabilities"] = ["ISO_15118_20_PLUG_AND_CHARGE", "ISO_15118_99_SOMETHING"]
    body["parking_places"][0]["vehicle_types"] = ["PERSONAL_VEHICLE", "HOVERCRAFT"]
    url = f"{V}/locations/BE/BEC/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    location = Location.objects.get()
    assert (location.facilities, location.parking_type) == (["HOTEL", "SPACEPORT"], "ROOFTOP_DECK")
    stored = Evse.objects.get(location=location, uid=evse["uid"])
    assert (stored.capabilities, stored.parking_restrictions) == (
        ["RFID_READER", "V2G_CAPABLE"],
        ["TAXIS", "DELIVERY_VANS"],
    )
    assert sorted(c.standard for c in stored.connectors.all()) == ["FUTURE_PLUG", "MCS"]
    served = ocpi.get(url).data
    assert served["facilities"] == ["HOTEL", "SPACEPORT"]
    assert served["evses"][0]["connectors"][0]["capabilities"] == evse["connectors"][0]["capabilities"]
    assert served["parking_places"][0]["vehicle_types"] == ["PERSONAL_VEHICLE", "HOVERCRAFT"]


@pytest.mark.parametrize(
    ("name", "tax_included"),
    [
        ("tariffs/tariff_19_simple_north_american_exclusive.json", "NO"),
        ("tariffs/tariff_20_simple_north_american_inclusive.json", "YES"),
    ],
)
def test_a_tariff_keeps_tax_included(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], name: str, tax_included: str
) -> None:
    PartnerRole.objects.create(partner=cpo[0], role="CPO", country_code="CA", party_id="FLO", business_name="FLO")
    body = ex(name)
    url = f"{V}/tariffs/CA/FLO/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    tariff = Tariff.objects.get()
    assert tariff.tax_included == tax_included
    assert "tax_included" not in tariff.extra
    assert ocpi.get(url).data == body


def test_a_tariff_without_tax_included_is_refused(ocpi: OcpiTestClient) -> None:
    body = ex("tariffs/tariff_6_025kwh_start_max_price.json")
    del body["tax_included"]
    reply = ocpi.put(f"{V}/tariffs/DE/ALL/{body['id']}", body)
    assert reply.status_code == 2001
    assert "tax_included" in reply.body["status_message"]


def test_a_tariffs_price_limits_are_before_and_after_taxes(ocpi: OcpiTestClient) -> None:
    body = ex("tariffs/tariff_6_025kwh_start_max_price.json")
    url = f"{V}/tariffs/DE/ALL/{body['id']}"
    assert ocpi.put(url, body).http_status == 201
    tariff = Tariff.objects.get()
    assert (tariff.max_price_excl_vat, tariff.max_price_incl_vat) == (Decimal("10"), Decimal("11"))
    assert ocpi.get(url).data["max_price"] == {"before_taxes": 10, "after_taxes": 11}
    # Served over 2.2.1 the same tariff has 2.2.1's Price.
    assert ocpi.get(url.replace("2.3.0", "2.2.1")).data["max_price"] == {"excl_vat": 10, "incl_vat": 11}


def test_a_session_with_taxes_is_stored_with_its_costs(ocpi: OcpiTestClient) -> None:
    body = ex("sessions/session_example_2_short_finished.json")
    url = f"{V}/sessions/{body['country_code']}/{body['party_id']}/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    session = ChargingSession.objects.get()
    assert (session.total_cost_excl_vat, session.total_cost_incl_vat) == (Decimal("8.5"), Decimal("9.35"))
    assert ocpi.get(url).data["total_cost"] == body["total_cost"]
    patch = {"total_cost": {"before_taxes": 9, "taxes": []}, "last_updated": "2015-06-29T23:55:00Z"}
    assert ocpi.patch(url, patch).status_code == 1000
    session.refresh_from_db()
    assert (session.total_cost_excl_vat, session.total_cost_incl_vat) == (Decimal("9"), Decimal("9"))


def test_a_cdr_with_taxes_is_stored_with_its_costs_and_taxes(ocpi: OcpiTestClient) -> None:
    body = ex("cdrs/cdr_example.json")
    reply = ocpi.post(f"{V}/cdrs", body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    cdr = Cdr.objects.get()
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (Decimal("4"), Decimal("4.4"))
    assert (cdr.total_time_cost_excl_vat, cdr.total_time_cost_incl_vat) == (Decimal("4"), Decimal("4.4"))
    assert cdr.total_cost_taxes == [{"name": "VAT", "amount": 0.4}]
    assert ocpi.get(reply.headers["Location"].split("8000")[-1]).data == body


def test_a_price_without_taxes_has_no_amount_incl_taxes(ocpi: OcpiTestClient) -> None:
    body = ex("cdrs/cdr_example.json")
    body["total_cost"] = {"before_taxes": 4}
    assert ocpi.post(f"{V}/cdrs", body).http_status == 201
    cdr = Cdr.objects.get()
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat, cdr.total_cost_taxes) == (Decimal("4"), None, None)


# --- tokens, authorize, commands over 2.3.0 --------------------------------------------------------------------


@pytest.fixture
def card() -> Token:
    return token_issue(driver=make_driver(), uid="04A1B2C3")


def test_tokens_get_and_authorize_over_2_3_0(ocpi: OcpiTestClient, card: Token) -> None:
    listed = ocpi.get(f"{V}/tokens")
    assert (listed.http_status, listed.status_code) == (200, 1000)
    assert [t["uid"] for t in listed.data] == [card.uid]
    reply = ocpi.post(f"{V}/tokens/{card.uid}/authorize?type=RFID", {"location_id": "LOC1"})
    assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
    assert (reply.data["allowed"], reply.data["token"]["uid"]) == ("ALLOWED", card.uid)
    assert reply.data["authorization_reference"]


def test_a_command_to_a_2_3_0_cpo_and_its_result(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], card: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake: FakeCpo = install_fake_cpo(monkeypatch)
    assert ocpi.put(f"{V}/locations/BE/BEC/LOC1", ex("locations/location_example.json")).http_status == 201
    partner = connect(cpo[0])
    partner.version = "2.3.0"
    partner.save()
    command = command_start_session(card, "LOC1", "3256", "1")
    (call,) = fake.calls
    assert (call.method, call.url) == ("POST", f"{COMMANDS_URL}/START_SESSION")
    assert call.body["token"]["uid"] == card.uid
    path = command.response_url.split("8000")[-1]
    reply = ocpi.post(path, {"result": "ACCEPTED"})
    assert (reply.http_status, reply.status_code) == (200, 1000)
    command.refresh_from_db()
    assert (command.state, command.result) == ("DONE", "ACCEPTED")


# --- credentials: hub_party_id, version negotiation ------------------------------------------------------------


def test_a_hubs_credentials_give_it_a_hub_role_and_its_parties() -> None:
    body = {**ex("credentials/credentials_example4.json"), "hub_party_id": "nlhub"}
    roles = WIRE.credentials_roles(WIRE.Credentials.model_validate(body))
    assert [(r.role, r.country_code, r.party_id) for r in roles] == [
        ("HUB", "NL", "HUB"),
        ("CPO", "NL", "EXO"),
        ("CPO", "NL", "PFC"),
        ("CPO", "NL", "CGP"),
    ]
    plain = WIRE.credentials_roles(WIRE.Credentials.model_validate(ex("credentials/credentials_example4.json")))
    assert [r.role for r in plain] == ["CPO", "CPO", "CPO"]


def test_hub_party_id_is_at_most_five_characters() -> None:
    with pytest.raises(ValueError, match="hub_party_id"):
        WIRE.Credentials.model_validate({**ex("credentials/credentials_example.json"), "hub_party_id": "NLHUB1"})


class _Versions:
    """A partner's versions and version details, as OcpiClient.get would return them."""

    def __init__(self, versions: list[str]) -> None:
        self.pages: dict[str, Any] = {
            "https://cpo.example.com/versions": [
                {"version": v, "url": f"https://cpo.example.com/{v}"} for v in versions
            ]
        }
        for v in versions:
            self.pages[f"https://cpo.example.com/{v}"] = {
                "version": v,
                "endpoints": [
                    {"identifier": m, "role": r, "url": f"https://cpo.example.com/{v}/{m}"}
                    for m, r in (("credentials", "SENDER"), ("locations", "SENDER"), ("tokens", "RECEIVER"))
                ],
            }

    def get(self, url: str, **kwargs: Any) -> Any:
        return SimpleNamespace(data=self.pages[url])


@pytest.mark.parametrize(
    ("offered", "prefer", "chosen"),
    [
        (["2.2.1", "2.3.0"], "", "2.3.0"),
        (["2.3.0"], "", "2.3.0"),
        (["2.2.1"], "", "2.2.1"),
        (["2.2.1", "2.3.0"], "2.2.1", "2.2.1"),
    ],
)
def test_version_negotiation_picks_2_3_0_with_a_2_3_0_partner(offered: list[str], prefer: str, chosen: str) -> None:
    discovery = discover(_Versions(offered), "https://cpo.example.com/versions", prefer=prefer)  # type: ignore[arg-type]
    assert discovery.version == chosen
    assert wire_for_version(chosen).version == chosen


def test_a_partner_agreed_on_2_2_1_that_lists_2_3_0_has_its_invoice_reconciliation_endpoints_recorded() -> None:
    partner = _Versions(["2.2.1", "2.3.0"])
    partner.pages["https://cpo.example.com/2.3.0"]["endpoints"] += [
        {"identifier": "invoicereconciliation", "role": role, "url": "https://cpo.example.com/2.3.0/ir"}
        for role in ("SENDER", "RECEIVER")
    ]
    discovery = discover(partner, "https://cpo.example.com/versions", prefer="2.2.1")  # type: ignore[arg-type]
    assert discovery.version == "2.2.1"
    found = {(e.module, e.role): e.url for e in discovery.endpoints}
    assert found == {
        ("credentials", "SENDER"): "https://cpo.example.com/2.2.1/credentials",
        ("locations", "SENDER"): "https://cpo.example.com/2.2.1/locations",
        ("tokens", "RECEIVER"): "https://cpo.example.com/2.2.1/tokens",
        # Only the module that exists in 2.3.0 alone is taken from its details.
        ("invoicereconciliation", "SENDER"): "https://cpo.example.com/2.3.0/ir",
        ("invoicereconciliation", "RECEIVER"): "https://cpo.example.com/2.3.0/ir",
    }

    # 2.3.0 details that cannot be read cost the extra endpoints, not the handshake.
    del partner.pages["https://cpo.example.com/2.3.0"]
    partner.get = _failing_for("https://cpo.example.com/2.3.0", partner.get)  # type: ignore[method-assign]
    discovery = discover(partner, "https://cpo.example.com/versions", prefer="2.2.1")  # type: ignore[arg-type]
    assert "invoicereconciliation" not in {e.module for e in discovery.endpoints}


def _failing_for(url: str, get: Any) -> Any:
    def failing(asked: str, **kwargs: Any) -> Any:
        if asked == url:
            raise OcpiClientError("HTTP 500", permanent=False)
        return get(asked, **kwargs)

    return failing


def test_a_2_3_0_hub_registers_and_the_parties_it_lists_push_through_it(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub POSTs its 2.3.0 credentials (hub_party_id, its clients as roles); we read its versions (faked at
    the `requests` layer: the hub is off this machine) and keep 2.3.0, its HUB role and the parties."""
    hub = _Versions(["2.2.1", "2.3.0"])

    def request(session: Any, method: str, url: str, **kwargs: Any) -> Any:
        return _response(method, url, 200, {"status_code": 1000, "data": hub.pages[url]})

    monkeypatch.setattr(requests.Session, "request", request)
    partner, token_a = partner_invite(name="Hub")
    body = {**ex("credentials/credentials_example4.json"), "hub_party_id": "NLHUB"}
    body["url"] = "https://cpo.example.com/versions"
    reply = OcpiTestClient(client, token_a).post(f"{V}/credentials", body)
    assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
    partner.refresh_from_db()
    assert (partner.status, partner.version) == (Partner.Status.REGISTERED, "2.3.0")
    assert partner_is_hub(partner)
    assert sorted(partner.roles.values_list("role", "country_code", "party_id")) == [
        ("CPO", "NL", "CGP"),
        ("CPO", "NL", "EXO"),
        ("CPO", "NL", "PFC"),
        ("HUB", "NL", "HUB"),
    ]
    assert hub_clients_pull(partner=partner).new == 0  # no HubClientInfo Sender: the roles said it all

    via_hub = OcpiTestClient(client, reply.data["token"])
    location = {**ex("locations/location_example.json"), "country_code": "NL", "party_id": "PFC"}
    pushed = via_hub.put(
        f"{V}/locations/NL/PFC/{location['id']}",
        location,
        headers={"OCPI-from-country-code": "NL", "OCPI-from-party-id": "PFC"},
    )
    assert (pushed.http_status, pushed.status_code) == (201, 1000), pushed.body
    assert Location.objects.get().partner == partner


def test_a_cdr_whose_taxed_total_does_not_fit_is_2001(ocpi: OcpiTestClient) -> None:
    body = ex("cdrs/cdr_example.json")
    body["total_cost"] = {"before_taxes": 99999999, "taxes": [{"name": "VAT", "amount": 99999999}]}
    reply = ocpi.post(f"{V}/cdrs", body)
    assert reply.status_code == 2001
    assert "total_cost" in reply.body["status_message"]
    assert not Cdr.objects.exists()


def test_an_unknown_tax_included_value_is_2001(ocpi: OcpiTestClient) -> None:
    body = {**ex("tariffs/tariff_6_025kwh_start_max_price.json"), "tax_included": "MAYBE"}
    reply = ocpi.put(f"{V}/tariffs/DE/ALL/{body['id']}", body)
    assert reply.status_code == 2001
    assert "tax_included" in reply.body["status_message"]
