"""OCPI 2.1.1 on our side: the spec's examples we receive parse and map, the receivers store 2.1.1 objects (bodies
from the examples) and serve them back in 2.1.1, tariffs take PATCH, sessions and CDRs find our token by its
auth_id, tokens are listed in the 2.1.1 shape, commands and their results, raw tokens, and version negotiation."""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone

from drivers.models import Token
from drivers.services import token_issue
from roaming.models import (
    Cdr,
    ChargingSession,
    Connector,
    CredentialsToken,
    Evse,
    Location,
    Partner,
    Tariff,
    hash_token,
)
from roaming.ocpi.v2_2_1.types import parse_data
from roaming.ocpi.versions import WIRES
from roaming.services.commands import command_reserve_now, command_start_session
from roaming.services.partners import discover
from tests.examples import example, examples_dir
from tests.roaming.conftest import OcpiTestClient, registered_partner
from tests.roaming.fakecpo import COMMANDS_URL, FakeCpo, connect, install_fake_cpo, make_driver

pytestmark = pytest.mark.django_db

V = "/ocpi/2.1.1"
WIRE = WIRES["2.1.1"]
PARTY = ("BE", "BEC")


def ex(name: str) -> Any:
    return example(name, "2.1.1")


def cdr_example() -> dict[str, Any]:
    """The spec's CDR example, published with a trailing comma (invalid JSON): read without it."""
    path = examples_dir("2.1.1") / "cdrs/cdr_example.AS_PUBLISHED_INVALID_JSON.txt"
    if not path.is_file():
        pytest.skip("OCPI 2.1.1 examples not found (set OCPI_EXAMPLES_DIR)")
    return dict(json.loads(re.sub(r",(\s*[}\]])", r"\1", path.read_text())))


@pytest.fixture
def cpo(db: None) -> tuple[Partner, str]:
    """A registered 2.1.1 CPO: one party (BE/BEC, the examples' own), as a flat 2.1.1 credentials object gives."""
    partner, token = registered_partner("Example CPO", [PARTY])
    partner.version = "2.1.1"
    partner.save()
    return partner, token


@pytest.fixture
def ocpi(client: Any, cpo: tuple[Partner, str]) -> OcpiTestClient:
    return OcpiTestClient(client, cpo[1], raw=True)  # 2.1.1 sends its token as it is


@pytest.fixture
def card() -> Token:
    return token_issue(driver=make_driver(), uid="04A1B2C3")


# --- every example we receive parses and maps ----------------------------------------------------------------

RECEIVED = {
    "locations/location_example.json": (WIRE.Location, lambda m: WIRE.location_data(m, PARTY)),
    "locations/location_patch_example_location_name.json": (WIRE.LocationPatch, WIRE.location_patch_data),
    "locations/location_patch_example_remove_evse.json": (WIRE.EVSEPatch, WIRE.evse_patch_data),
    "locations/location_patch_example_status.json": (WIRE.EVSEPatch, WIRE.evse_patch_data),
    "locations/location_patch_example_tariff.json": (WIRE.ConnectorPatch, WIRE.connector_patch_data),
    "tariffs/tariff_example_*.json": (WIRE.Tariff, lambda m: WIRE.tariff_data(m, PARTY)),
    "sessions/session_example_*.json": (WIRE.Session, lambda m: WIRE.session_data(m, PARTY)),
    "sessions/session_patch_example_*.json": (WIRE.SessionPatch, WIRE.session_patch_data),
    "credentials/credentials_example.json": (WIRE.Credentials, WIRE.credentials_roles),
}


def _received() -> list[Any]:
    cases = []
    for pattern, (model, mapping) in RECEIVED.items():
        for path in sorted(examples_dir("2.1.1").glob(pattern)):
            cases.append(pytest.param(path.relative_to(examples_dir("2.1.1")).as_posix(), model, mapping, id=path.name))
    return cases


@pytest.mark.parametrize(("name", "model", "mapping"), _received())
def test_every_example_we_receive_parses_and_maps(name: str, model: Any, mapping: Any) -> None:
    assert mapping(parse_data(model, ex(name))) is not None


def test_the_examples_are_there_to_be_tested() -> None:
    if not examples_dir("2.1.1").is_dir():
        pytest.skip("OCPI 2.1.1 examples not found (set OCPI_EXAMPLES_DIR)")
    assert len(_received()) == 14


def test_the_cdr_example_maps_to_our_columns() -> None:
    data = WIRE.cdr_data(WIRE.CDR.model_validate(cdr_example()), None, PARTY)
    assert (data.country_code, data.party_id, data.ocpi_id) == ("BE", "BEC", "12345")
    assert (data.fields["contract_id"], data.fields["token_uid"]) == ("DE8ACC12E46L89", "")
    assert data.fields["total_cost_excl_vat"] == Decimal("4.00")
    assert data.fields["total_cost_incl_vat"] is None
    assert data.fields["cdr_location"]["evse_uid"] == "3256"
    assert data.fields["tariffs"][0]["country_code"] == "BE"
    assert data.raw["stop_date_time"] == "2015-06-29T23:37:32Z"  # kept as received


def test_credentials_are_one_cpo_party() -> None:
    roles = WIRE.credentials_roles(WIRE.Credentials.model_validate(ex("credentials/credentials_example.json")))
    assert [(r.role, r.country_code, r.party_id, r.business_name) for r in roles] == [
        ("CPO", "NL", "EXA", "Example Operator")
    ]


# --- locations -------------------------------------------------------------------------------------------------


def test_a_location_is_stored_and_served_back_as_sent(ocpi: OcpiTestClient) -> None:
    body = ex("locations/location_example.json")
    url = f"{V}/locations/BE/BEC/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    location = Location.objects.get()
    assert (location.country_code, location.party_id, location.parking_type, location.publish) == (
        "BE",
        "BEC",
        "ON_STREET",
        True,
    )
    connector = Connector.objects.filter(evse__uid="3256").first()
    assert connector is not None
    assert (connector.max_voltage, connector.max_amperage, connector.tariff_ids) == (220, 16, ["11"])
    served = ocpi.get(url).data
    assert served == body
    # The same location over 2.2.1 has 2.2.1's shape.
    assert ocpi.get(url.replace("2.1.1", "2.2.1")).data["parking_type"] == "ON_STREET"


def test_a_location_type_2_2_1_has_no_word_for_is_kept(ocpi: OcpiTestClient) -> None:
    body = {**ex("locations/location_example.json"), "type": "OTHER"}
    assert ocpi.put(f"{V}/locations/BE/BEC/LOC1", body).http_status == 201
    assert Location.objects.get().parking_type == ""
    assert ocpi.get(f"{V}/locations/BE/BEC/LOC1").data["type"] == "OTHER"


def test_location_evse_and_connector_patches_without_last_updated(ocpi: OcpiTestClient) -> None:
    assert ocpi.put(f"{V}/locations/BE/BEC/LOC1", ex("locations/location_example.json")).http_status == 201
    name = ocpi.patch(f"{V}/locations/BE/BEC/LOC1", ex("locations/location_patch_example_location_name.json"))
    status = ocpi.patch(f"{V}/locations/BE/BEC/LOC1/3256", ex("locations/location_patch_example_status.json"))
    tariff = ocpi.patch(f"{V}/locations/BE/BEC/LOC1/3256/1", ex("locations/location_patch_example_tariff.json"))
    assert [r.status_code for r in (name, status, tariff)] == [1000, 1000, 1000], [name.body, status.body]
    assert Location.objects.get().name == "Interparking Gent Zuid"
    assert Evse.objects.get(uid="3256").status == "CHARGING"
    assert Connector.objects.get(evse__uid="3256", ocpi_id="1").tariff_ids == ["15"]
    assert ocpi.get(f"{V}/locations/BE/BEC/LOC1/3256/1").data["tariff_id"] == "15"


def test_an_object_of_another_party_is_404(ocpi: OcpiTestClient) -> None:
    reply = ocpi.put(f"{V}/locations/NL/TNM/LOC1", ex("locations/location_example.json"))
    assert (reply.http_status, reply.status_code) == (404, 2001)
    assert "NL/TNM" in reply.body["status_message"]
    assert not Location.objects.exists()


def test_a_body_2_2_1_cannot_read_is_2001_not_500(ocpi: OcpiTestClient) -> None:
    """The mapping reads a 2.1.1 object through 2.2.1's model: what 2.2.1 refuses is the partner's error. A CDR's
    Location without its EVSE names no connector, which a 2.2.1 CdrLocation must."""
    body = cdr_example()
    body["location"]["evses"] = []
    reply = ocpi.post(f"{V}/cdrs", body)
    assert (reply.http_status, reply.status_code) == (200, 2001), reply.body  # as any body we cannot read
    assert "cdr_location.connector_id" in reply.body["status_message"]
    assert not Cdr.objects.exists()


# --- tariffs ---------------------------------------------------------------------------------------------------


def test_a_tariff_is_put_patched_and_served_in_2_1_1(ocpi: OcpiTestClient) -> None:
    body = {**ex("tariffs/tariff_put_example_2_per_hour.json"), "last_updated": "2015-06-29T20:39:09Z"}
    url = f"{V}/tariffs/BE/BEC/12"
    assert ocpi.put(url, body).http_status == 201
    tariff = Tariff.objects.get()
    assert (tariff.country_code, tariff.party_id, tariff.ocpi_id) == ("BE", "BEC", "12")
    assert ocpi.get(url).data == body
    reply = ocpi.patch(url, ex("tariffs/tariff_patch_example_2_50_per_hour.json"))
    assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
    served = ocpi.get(url).data
    assert served["elements"] == [{"price_components": [{"type": "TIME", "price": 2.5, "step_size": 300}]}]
    assert served["last_updated"] > body["last_updated"]  # no last_updated in the PATCH: as of its arrival
    assert "country_code" not in served
    # 2.2 removed the tariff PATCH.
    assert ocpi.patch(url.replace("2.1.1", "2.2.1"), {"currency": "USD"}).http_status == 405


def test_a_patch_of_an_unknown_tariff_is_404(ocpi: OcpiTestClient) -> None:
    reply = ocpi.patch(f"{V}/tariffs/BE/BEC/NOPE", ex("tariffs/tariff_patch_example_2_50_per_hour.json"))
    assert reply.http_status == 404


# --- sessions and CDRs -------------------------------------------------------------------------------------------


def test_a_session_is_linked_to_our_token_by_its_auth_id(ocpi: OcpiTestClient, card: Token) -> None:
    body = {**ex("sessions/session_example_2_short_finished.json"), "auth_id": card.contract_id.lower()}
    url = f"{V}/sessions/BE/BEC/{body['id']}"
    reply = ocpi.put(url, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    session = ChargingSession.objects.get()
    assert (session.token, session.driver_id) == (card, card.driver_id)
    assert (session.token_uid, session.token_type) == (card.uid, "RFID")
    assert (session.ocpi_location_id, session.evse_uid, session.connector_id) == ("LOC1", "3256", "1")
    assert session.end_date_time is not None
    assert (session.end_date_time.isoformat(), session.total_cost_excl_vat) == ("2015-06-29T23:50:16+00:00", 8.5)
    served = ocpi.get(url).data
    assert (served["auth_id"], served["location"], served["total_cost"]) == (body["auth_id"], body["location"], 8.5)
    assert (served["start_datetime"], served["end_datetime"]) == (body["start_datetime"], body["end_datetime"])
    reply = ocpi.patch(url, ex("sessions/session_patch_example_total_cost.json"))
    assert reply.status_code == 1000, reply.body
    session.refresh_from_db()
    assert session.total_cost_excl_vat == Decimal("0.6")


def test_a_session_for_a_contract_we_never_issued_is_stored_without_a_token(ocpi: OcpiTestClient) -> None:
    body = ex("sessions/session_example_1_simple_start.json")
    assert ocpi.put(f"{V}/sessions/BE/BEC/{body['id']}", body).http_status == 201
    session = ChargingSession.objects.get()
    assert (session.token, session.contract_id) == (None, body["auth_id"])


def test_a_cdr_is_stored_with_our_token_and_served_as_received(ocpi: OcpiTestClient, card: Token) -> None:
    body = {**cdr_example(), "auth_id": card.contract_id}
    reply = ocpi.post(f"{V}/cdrs", body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    cdr = Cdr.objects.get()
    assert (cdr.country_code, cdr.party_id, cdr.token, cdr.driver_id) == ("BE", "BEC", card, card.driver_id)
    assert (cdr.total_cost_excl_vat, cdr.total_energy) == (Decimal("4"), Decimal("15.342"))
    assert cdr.end_date_time.isoformat() == "2015-06-29T23:37:32+00:00"
    assert ocpi.get(reply.headers["Location"].split("testserver")[-1]).data == body
    assert ocpi.post(f"{V}/cdrs", body).http_status == 200  # a resend is the same CDR


def test_a_cdr_is_linked_to_the_session_of_its_token_connector_and_start(ocpi: OcpiTestClient, card: Token) -> None:
    """2.1.1 CDRs name no session: the session of the same token that began at the same connector and moment."""
    session = {**ex("sessions/session_example_2_short_finished.json"), "auth_id": card.contract_id}
    for session_id, start in (("101", "2015-06-29T21:39:09Z"), ("102", "2015-06-29T20:00:00Z")):
        assert ocpi.put(f"{V}/sessions/BE/BEC/{session_id}", {**session, "id": session_id, "start_datetime": start})
    cdr = {**cdr_example(), "auth_id": card.contract_id, "location": session["location"]}
    assert ocpi.post(f"{V}/cdrs", cdr).http_status == 201
    other_connector = copy.deepcopy({**cdr, "id": "12346"})
    other_connector["location"]["evses"][0]["connectors"][0]["id"] = "2"
    assert ocpi.post(f"{V}/cdrs", other_connector).http_status == 201
    linked = dict(Cdr.objects.values_list("ocpi_id", "session__ocpi_id"))
    assert linked == {"12345": "101", "12346": None}


# --- tokens -------------------------------------------------------------------------------------------------------


def test_tokens_are_listed_in_the_2_1_1_shape(ocpi: OcpiTestClient, card: Token) -> None:
    app = token_issue(driver=card.driver, uid="APP-1", type=Token.Type.APP_USER)
    listed = ocpi.get(f"{V}/tokens")
    assert (listed.http_status, listed.status_code) == (200, 1000)
    by_uid = {t["uid"]: t for t in listed.data}
    assert {"uid", "type", "auth_id", "issuer", "valid", "whitelist", "last_updated"} <= set(by_uid[card.uid])
    assert not {"country_code", "party_id", "contract_id", "group_id"} & set(by_uid[card.uid])
    assert (by_uid[card.uid]["type"], by_uid[card.uid]["auth_id"]) == ("RFID", card.contract_id)
    assert by_uid[app.uid]["type"] == "OTHER"  # 2.1.1 knows RFID and OTHER only
    assert WIRE.token_push_path("NL/EMS", card) == f"NL/EMS/{card.uid}"  # no ?type= in 2.1.1


def test_authorize_answers_without_token_or_reference(ocpi: OcpiTestClient, card: Token) -> None:
    reply = ocpi.post(f"{V}/tokens/{card.uid}/authorize", {"location_id": "LOC1", "connector_ids": ["1"]})
    assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
    assert reply.data["allowed"] == "ALLOWED"
    assert not {"token", "authorization_reference"} & set(reply.data)


# --- commands -----------------------------------------------------------------------------------------------------


def test_a_command_to_a_2_1_1_cpo_and_its_result(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], card: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake: FakeCpo = install_fake_cpo(monkeypatch)
    assert ocpi.put(f"{V}/locations/BE/BEC/LOC1", ex("locations/location_example.json")).http_status == 201
    connect(cpo[0])
    command = command_start_session(card, "LOC1", "3256", "1")
    (call,) = fake.calls
    assert (call.method, call.url) == ("POST", f"{COMMANDS_URL}/START_SESSION")
    assert call.headers["Authorization"] == "Token token-we-use-at-the-cpo"  # raw
    assert "OCPI-to-party-id" not in call.headers
    assert set(call.body) == {"response_url", "token", "location_id", "evse_uid"}
    assert call.body["token"]["auth_id"] == card.contract_id
    command.refresh_from_db()
    assert (command.state, command.response) == ("SENT", "ACCEPTED")
    reply = ocpi.post(command.response_url.split("8000")[-1], {"result": "UNKNOWN_SESSION"})
    assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
    command.refresh_from_db()
    assert (command.state, command.result, command.result_message) == ("DONE", "FAILED", "UNKNOWN_SESSION")


def test_a_reservation_id_is_a_number_in_2_1_1() -> None:
    body = WIRE.command_request(
        "RESERVE_NOW",
        {
            "response_url": "https://emsp.example.com/r",
            "token": {"uid": "1", "type": "RFID", "auth_id": "C1", "issuer": "x", "valid": True,
                      "whitelist": "ALLOWED", "last_updated": "2015-06-29T22:39:09Z"},
            "expiry_date": "2015-06-29T23:39:09Z",
            "reservation_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
            "location_id": "LOC1",
            "authorization_reference": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        },
    )  # fmt: skip
    assert body["reservation_id"] == 0x0A1B2C3D4E5F
    assert "authorization_reference" not in body
    with pytest.raises(Exception, match="CANCEL_RESERVATION"):
        WIRE.command_request("CANCEL_RESERVATION", {"response_url": "https://e/r", "reservation_id": "1"})


# --- transport, versions, negotiation ------------------------------------------------------------------------------


def test_raw_and_base64_tokens_are_both_accepted(client: Any, cpo: tuple[Partner, str]) -> None:
    for raw in (True, False):
        reply = OcpiTestClient(client, cpo[1], raw=raw).get(f"{V}/tokens")
        assert (reply.http_status, reply.status_code) == (200, 1000)


def test_a_raw_token_that_reads_as_base64_is_still_found(client: Any, cpo: tuple[Partner, str]) -> None:
    """A 2.1.1 token sent raw may itself decode as Base64 to printable text that is no token of ours."""
    token = base64.b64encode(b"printable but nobody's token").decode()
    CredentialsToken.objects.filter(partner=cpo[0]).update(token_hash=hash_token(token))
    reply = OcpiTestClient(client, token, raw=True).get(f"{V}/tokens")
    assert (reply.http_status, reply.status_code) == (200, 1000)


def test_our_2_1_1_version_details_name_no_roles(ocpi: OcpiTestClient) -> None:
    details = ocpi.get(V).data
    assert details["version"] == "2.1.1"
    modules = {e["identifier"] for e in details["endpoints"]}
    assert modules == {"credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands"}
    assert all(set(e) == {"identifier", "url"} for e in details["endpoints"])
    assert "2.1.1" in [v["version"] for v in ocpi.get("/ocpi/versions").data]


class _Versions:
    """A partner's versions and version details, as OcpiClient.get would return them (2.1.1: no roles)."""

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
                    {"identifier": m, "url": f"https://cpo.example.com/{v}/{m}"}
                    | ({"role": "SENDER"} if v != "2.1.1" else {})
                    for m in ("credentials", "locations", "tokens", "commands")
                ],
            }

    def get(self, url: str, **kwargs: Any) -> Any:
        return SimpleNamespace(data=self.pages[url])


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [(["2.1.1"], "2.1.1"), (["2.1.1", "2.2.1"], "2.2.1"), (["2.1.1", "2.2.1", "2.3.0"], "2.3.0")],
)
def test_version_negotiation_picks_the_highest_common_version(offered: list[str], chosen: str) -> None:
    discovery = discover(_Versions(offered), "https://cpo.example.com/versions")  # type: ignore[arg-type]
    assert discovery.version == chosen
    if chosen == "2.1.1":  # a CPO receives tokens and commands, and sends the rest
        roles = {e.module: e.role for e in discovery.endpoints}
        assert roles == {"credentials": "SENDER", "locations": "SENDER", "tokens": "RECEIVER", "commands": "RECEIVER"}


def test_a_reservation_goes_out_with_a_number(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], card: Token, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake: FakeCpo = install_fake_cpo(monkeypatch)
    assert ocpi.put(f"{V}/locations/BE/BEC/LOC1", ex("locations/location_example.json")).http_status == 201
    connect(cpo[0])
    command = command_reserve_now(card, "LOC1", expiry_date=timezone.now() + timedelta(minutes=15), evse_uid="3256")
    (call,) = fake.calls
    assert call.url == f"{COMMANDS_URL}/RESERVE_NOW"
    assert isinstance(call.body["reservation_id"], int)
    assert "authorization_reference" not in call.body
    assert command.response == "ACCEPTED"
