"""The simulator speaking OCPI 2.1.1 (`ocpi_version="2.1.1"`), driven over HTTP on loopback.

A small EMSP written here from the 2.1.1 specification plays the other side; the shapes the simulator
serves and pushes are compared with the official 2.1.1 examples (OCPI_EXAMPLES_DIR, see tests/examples.py).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from cposim import SimConfig, Simulator
from cposim.__main__ import build_parser, config_from
from tests.examples import examples_dir

EXAMPLES = examples_dir("2.1.1")
START = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
# Spec 2.1.1 object fields (mod_locations, mod_sessions, mod_cdrs, mod_tariffs).
LOCATION_FIELDS = {
    "id", "type", "name", "address", "city", "postal_code", "country", "coordinates", "related_locations", "evses",
    "directions", "operator", "suboperator", "owner", "facilities", "time_zone", "opening_times",
    "charging_when_closed", "images", "energy_mix", "last_updated",
}  # fmt: skip
EVSE_FIELDS = {
    "uid", "evse_id", "status", "status_schedule", "capabilities", "connectors", "floor_level", "coordinates",
    "physical_reference", "directions", "parking_restrictions", "images", "last_updated",
}  # fmt: skip
CDR_FIELDS = {
    "id", "start_date_time", "stop_date_time", "auth_id", "auth_method", "location", "meter_id", "currency",
    "tariffs", "charging_periods", "total_cost", "total_energy", "total_time", "total_parking_time", "remark",
    "last_updated",
}  # fmt: skip
LOCATION_TYPES = {"ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"}
CAPABILITIES = {
    "CHARGING_PROFILE_CAPABLE", "CREDIT_CARD_PAYABLE", "REMOTE_START_STOP_CAPABLE", "RESERVABLE", "RFID_READER",
    "UNLOCK_CAPABLE",
}  # fmt: skip
TOKEN = {
    "uid": "012345678",
    "type": "RFID",
    "auth_id": "DE8ACC12E46L89",
    "visual_number": "DF000-2001-8999",
    "issuer": "TheNewMotion",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2015-06-29T22:39:09Z",
}


def example(name: str) -> Any:
    path = EXAMPLES / name
    if not path.is_file():
        pytest.skip(f"OCPI 2.1.1 example {name} not found under {EXAMPLES} (set OCPI_EXAMPLES_DIR)")
    text = path.read_text()
    # The published CDR example has a trailing comma (spec facts, section 7).
    return json.loads(re.sub(r",(\s*[}\]])", r"\1", text))


def raw(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Emsp211:
    """An EMSP speaking only 2.1.1 (its versions also list a 2.2.1 it does not serve); records every request."""

    base_url: str = ""
    token_a: str = "emsp-token-a"
    accepted_token: str | None = None
    token_for_sim: str | None = None
    received: list[Received] = field(default_factory=list)
    authorize: Callable[[str, Any], dict[str, Any]] | None = None

    def credentials(self, token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": f"{self.base_url}/emsp/versions",
            "business_details": {"name": "Fake 2.1.1 EMSP"},
            "party_id": "EMS",
            "country_code": "NL",
        }

    def calls(self, method: str, contains: str = "") -> list[Received]:
        return [r for r in self.received if r.method == method and contains in r.path]

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any):
        self.received.append(Received(method, path, query, headers, body))
        auth = headers.get("Authorization", "")
        token = auth[6:] if auth.startswith("Token ") else None  # raw only: 2.1.1 does not encode
        url = f"{self.base_url}/emsp/2.1.1"
        if path == "/emsp/versions":
            versions = [{"version": "2.2.1", "url": f"{self.base_url}/emsp/2.2.1"}, {"version": "2.1.1", "url": url}]
            return 200, {"data": versions, "status_code": 1000}, {}
        if path == "/emsp/2.1.1":
            modules = ("credentials", "locations", "sessions", "cdrs", "tariffs", "tokens", "commands")
            details = {"version": "2.1.1", "endpoints": [{"identifier": m, "url": f"{url}/{m}"} for m in modules]}
            return 200, {"data": details, "status_code": 1000}, {}
        if path == "/emsp/2.1.1/credentials" and method == "POST" and token == self.token_a:
            reply = requests.get(body["url"], headers=raw(body["token"]), timeout=5)
            if reply.status_code != 200:
                return 200, {"status_code": 3001}, {}
            self.token_for_sim, self.accepted_token = body["token"], "emsp-token-c"
            return 200, {"data": self.credentials("emsp-token-c"), "status_code": 1000}, {}
        if token is None or token != self.accepted_token:
            return 401, {"status_code": 2000}, {}
        if path.endswith("/authorize"):
            uid = path.split("/")[-2]
            info = self.authorize(uid, body) if self.authorize else {"allowed": "ALLOWED", "location": body}
            return 200, {"data": info, "status_code": 1000}, {}
        if path == "/emsp/2.1.1/cdrs" and method == "POST":
            return 201, {"status_code": 1000}, {"Location": f"{url}/cdrs/stored/{body['id']}"}
        return 200, {"status_code": 1000}, {}

    def register_at(self, sim: Simulator) -> dict[str, Any]:
        """Act as the initiator, with the simulator's token A sent raw."""
        self.accepted_token = "emsp-token-b"
        versions = requests.get(sim.versions_url, headers=raw(sim.token_a), timeout=5).json()["data"]
        details = requests.get(versions[0]["url"], headers=raw(sim.token_a), timeout=5).json()["data"]
        url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        answer = requests.post(url, json=self.credentials("emsp-token-b"), headers=raw(sim.token_a), timeout=5).json()
        assert answer["status_code"] == 1000, answer
        self.token_for_sim = answer["data"]["token"]
        return answer["data"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        status, payload, extra = self.server.emsp.handle(self.command, split.path, query, dict(self.headers), body)
        data = json.dumps({"timestamp": "2025-03-03T09:30:00Z", **payload}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@pytest.fixture
def emsp211() -> Iterator[Emsp211]:
    fake = Emsp211()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.emsp = fake  # type: ignore[attr-defined]
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def sim211(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim(ocpi_version="2.1.1")


@pytest.fixture
def linked211(sim211: Simulator, emsp211: Emsp211) -> tuple[Simulator, Emsp211]:
    sim211.register_with(f"{emsp211.base_url}/emsp/versions", emsp211.token_a)
    emsp211.received.clear()
    return sim211, emsp211


class Client211:
    def __init__(self, sim: Simulator) -> None:
        assert sim.inbound_token
        self.sim = sim
        self.session = requests.Session()
        self.session.headers.update(raw(sim.inbound_token))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.sim.version_url}{path}", timeout=5, **kwargs)

    def data(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def command(self, emsp: Emsp211, name: str, **body: Any) -> dict[str, Any]:
        body.setdefault("response_url", f"{emsp.base_url}/emsp/2.1.1/commands/{name}/{len(emsp.received)}")
        response = self.request("POST", f"/commands/{name}", json=body)
        assert response.status_code == 200
        return response.json()


@pytest.fixture
def client211(linked211: tuple[Simulator, Emsp211]) -> Client211:
    return Client211(linked211[0])


def assert_211_location(location: dict[str, Any]) -> None:
    """Key sets as in the official location example, within the 2.1.1 field lists."""
    reference = example("locations/location_example.json")
    assert set(reference) - {"evses"} <= set(location) <= LOCATION_FIELDS
    assert location["type"] in LOCATION_TYPES
    for evse in location["evses"]:
        assert_211_evse(evse)


def assert_211_evse(evse: dict[str, Any]) -> None:
    connector_keys = set(example("locations/location_example.json")["evses"][0]["connectors"][0])
    assert set(evse) <= EVSE_FIELDS
    assert set(evse.get("capabilities", [])) <= CAPABILITIES
    for connector in evse["connectors"]:
        assert set(connector) == connector_keys


def own_excl_vat(sim: Simulator, cdr_id: str) -> float:
    """The CDR's total excl. VAT as the simulator keeps it (a 2.2.1 Price)."""
    cdr = sim.cdr(cdr_id)
    assert cdr is not None
    return float(cdr["total_cost"]["excl_vat"])


def no_221_headers(headers: dict[str, str]) -> bool:
    names = {name.lower() for name in headers}
    return not names & {"x-request-id", "x-correlation-id"} and not any(n.startswith("ocpi-") for n in names)


# versions and credentials -----------------------------------------------------------------------


def test_versions_and_details_list_211_endpoints_without_roles(sim211: Simulator) -> None:
    versions = requests.get(sim211.versions_url, headers=raw(sim211.token_a), timeout=5)
    assert versions.json()["data"] == [{"version": "2.1.1", "url": f"{sim211.base_url}/ocpi/2.1.1"}]
    assert no_221_headers(dict(versions.headers))
    encoded = {"Authorization": "Token " + base64.b64encode(sim211.token_a.encode()).decode()}
    details = requests.get(sim211.version_url, headers=encoded, timeout=5).json()["data"]
    assert details["version"] == "2.1.1"
    endpoint_keys = {frozenset(e) for e in example("versions/version_details_example.json")["endpoints"]}
    assert {frozenset(e) for e in details["endpoints"]} == endpoint_keys == {frozenset({"identifier", "url"})}
    assert {e["identifier"]: e["url"] for e in details["endpoints"]} == {
        m: f"{sim211.base_url}/ocpi/2.1.1/{m}"
        for m in ("credentials", "locations", "tariffs", "sessions", "cdrs", "tokens", "commands")
    }
    other = requests.get(f"{sim211.base_url}/ocpi/2.2.1", headers=raw(sim211.token_a), timeout=5)
    assert (other.status_code, other.json()["status_code"]) == (404, 3002)


def test_emsp_registers_with_flat_credentials_and_raw_tokens(sim211: Simulator, emsp211: Emsp211) -> None:
    url = f"{sim211.version_url}/credentials"
    roles_only = {"token": "x", "url": f"{emsp211.base_url}/emsp/versions", "roles": [{"role": "EMSP"}]}
    refused = requests.post(url, json=roles_only, headers=raw(sim211.token_a), timeout=5).json()
    assert refused["status_code"] == 2001  # a 2.2.1 Credentials object has no party_id / country_code

    answer = emsp211.register_at(sim211)
    assert set(answer) == set(example("credentials/credentials_example.json"))
    assert (answer["url"], answer["country_code"], answer["party_id"]) == (sim211.versions_url, "NL", "SIM")
    # It fetched our 2.1.1 details (not the 2.2.1 listed first) with token B, sent raw and without ids.
    fetched = [r for r in emsp211.received if r.method == "GET"]
    assert [r.path for r in fetched] == ["/emsp/versions", "/emsp/2.1.1"]
    assert all(r.headers["Authorization"] == "Token emsp-token-b" and no_221_headers(r.headers) for r in fetched)
    assert sim211.outbound_token == "emsp-token-b"
    assert sim211.credentials.peer_party() == ("NL", "EMS")
    # Token C works raw and Base64-encoded; the answers carry no 2.2.1 headers.
    locations = requests.get(f"{sim211.version_url}/locations", headers=raw(answer["token"]), timeout=5)
    assert locations.status_code == 200
    assert no_221_headers(dict(locations.headers))
    encoded = {"Authorization": "Token " + base64.b64encode(answer["token"].encode()).decode()}
    assert requests.get(f"{sim211.version_url}/tariffs", headers=encoded, timeout=5).status_code == 200


def test_simulator_registers_with_flat_credentials(sim211: Simulator, emsp211: Emsp211) -> None:
    answer = sim211.register_with(f"{emsp211.base_url}/emsp/versions", emsp211.token_a)
    assert answer["token"] == "emsp-token-c"
    post = emsp211.calls("POST", "/credentials")[0]
    assert set(post.body) == set(example("credentials/credentials_example.json"))
    assert (post.body["country_code"], post.body["party_id"]) == ("NL", "SIM")
    assert post.body["business_details"]["name"]
    assert post.headers["Authorization"] == "Token emsp-token-a"
    assert emsp211.token_for_sim == sim211.inbound_token
    assert [r.path for r in emsp211.received if r.method == "GET"][:2] == ["/emsp/versions", "/emsp/2.1.1"]
    assert all(no_221_headers(r.headers) for r in emsp211.received)
    # Pushes go to the endpoints of the 2.1.1 details, with token C raw.
    sim211.push_location("LOC000001")
    put = emsp211.calls("PUT", "/locations/")[-1]
    assert put.path == "/emsp/2.1.1/locations/NL/SIM/LOC000001"
    assert put.headers["Authorization"] == "Token emsp-token-c"
    assert no_221_headers(put.headers)


# what the simulator serves and pushes ------------------------------------------------------------


def test_pulled_locations_and_tariffs_have_the_211_shapes(client211: Client211) -> None:
    locations = client211.data("/locations")
    assert len(locations) == 30
    for location in locations:
        assert_211_location(location)
    assert {loc["type"] for loc in locations} - {"OTHER"}  # real types, not only the fallback
    one = client211.data("/locations/LOC000001")
    assert one == locations[0]
    connector = client211.data(f"/locations/LOC000001/{one['evses'][0]['uid']}/1")
    assert connector == one["evses"][0]["connectors"][0]
    assert connector["tariff_id"] == client211.sim.location("LOC000001")["evses"][0]["connectors"][0]["tariff_ids"][0]

    tariffs = client211.data("/tariffs")
    reference = example("tariffs/tariff_example_complex.json")
    component_keys = {frozenset(c) for e in reference["elements"] for c in e["price_components"]}
    for tariff in tariffs:
        assert set(reference) - {"tariff_alt_url"} <= set(tariff) <= set(reference) | {"tariff_alt_text", "energy_mix"}
        assert {frozenset(c) for e in tariff["elements"] for c in e["price_components"]} <= component_keys
    capped = next(t for t in tariffs if t["id"] == "NL-AC-TIME")
    assert "max_price" not in capped
    assert "type" not in capped


def test_a_commanded_session_and_its_cdr_in_211(linked211: tuple[Simulator, Emsp211], client211: Client211) -> None:
    sim, emsp = linked211
    put = client211.request("PUT", "/tokens/NL/EMS/012345678", json=TOKEN)
    assert put.status_code == 201
    assert client211.data("/tokens/NL/EMS/012345678") == TOKEN
    assert set(TOKEN) == set(example("tokens/token_example.json"))

    evse_uid = sim.location("LOC000002")["evses"][0]["uid"]
    answer = client211.command(
        emsp,
        "START_SESSION",
        response_url=f"{emsp.base_url}/emsp/2.1.1/commands/START_SESSION/1",
        token=TOKEN,
        location_id="LOC000002",
        evse_uid=evse_uid,
    )
    assert (answer["status_code"], answer["data"]) == (1000, {"result": "ACCEPTED"})
    sim.flush()
    result, pending, active, status = emsp.received
    assert (result.method, result.path, result.body) == (
        "POST",
        "/emsp/2.1.1/commands/START_SESSION/1",
        {"result": "ACCEPTED"},
    )
    session_id = pending.body["id"]
    assert (pending.method, pending.path) == ("PUT", f"/emsp/2.1.1/sessions/NL/SIM/{session_id}")
    assert set(pending.body) == set(example("sessions/session_example_1_simple_start.json")) - {"total_cost"} | {
        "charging_periods"
    }
    assert (active.body["status"], active.body["auth_id"], active.body["auth_method"]) == (
        "ACTIVE",
        TOKEN["auth_id"],
        "AUTH_REQUEST",
    )
    [used_evse] = active.body["location"]["evses"]
    assert used_evse["uid"] == evse_uid
    assert len(used_evse["connectors"]) == 1
    assert_211_location(active.body["location"])
    assert (status.method, status.body["status"]) == ("PATCH", "CHARGING")

    emsp.received.clear()
    [patch] = sim.advance(1200)
    sent = emsp.calls("PATCH", "/sessions/")[0].body
    assert set(sent) == {"kwh", "charging_periods", "total_cost", "last_updated"}
    assert sent["total_cost"] == float(patch["total_cost"]["excl_vat"])  # a number, excl. VAT
    assert all(set(p) == {"start_date_time", "dimensions"} for p in sent["charging_periods"])

    emsp.received.clear()
    stop = client211.command(emsp, "STOP_SESSION", session_id=session_id)
    assert stop["data"] == {"result": "ACCEPTED"}
    sim.flush()
    assert [(r.method, r.path.split("/")[3]) for r in emsp.received] == [
        ("POST", "commands"),
        ("PATCH", "sessions"),
        ("PATCH", "locations"),
        ("POST", "cdrs"),
    ]
    assert emsp.received[0].body == {"result": "ACCEPTED"}
    assert "end_datetime" in emsp.received[1].body
    assert "end_date_time" not in emsp.received[1].body

    cdr = emsp.received[3].body
    reference = example("cdrs/cdr_example.AS_PUBLISHED_INVALID_JSON.txt")
    assert set(reference) <= set(cdr) <= CDR_FIELDS
    assert cdr["auth_id"] == TOKEN["auth_id"]
    assert cdr["total_cost"] == own_excl_vat(sim, cdr["id"])
    assert {frozenset(c) for t in cdr["tariffs"] for e in t["elements"] for c in e["price_components"]} == {
        frozenset({"type", "price", "step_size"})
    }
    assert (sim.cdr_info(cdr["id"]) or {})["emsp_location"].endswith(f"/cdrs/stored/{cdr['id']}")

    # The Sender lists hold the same 2.1.1 objects; sessions need no date_from in 2.1.1.
    [session] = client211.data("/sessions")
    assert set(session) == set(example("sessions/session_example_2_short_finished.json"))
    assert session["auth_id"] == TOKEN["auth_id"]
    assert client211.data("/cdrs") == [json.loads(json.dumps(cdr))]


def test_a_211_tariff_prices_without_min_and_max_price(linked211: tuple[Simulator, Emsp211]) -> None:
    """2.1.1 cannot say max_price, so the CDR total is what the tariff the EMSP was sent gives: an EMSP
    checking totals against it finds them right."""
    sim, emsp = linked211
    capped = {**sim.tariff("NL-AC-TIME"), "max_price": {"excl_vat": Decimal(1), "incl_vat": Decimal("1.21")}}
    sim.put_tariff(capped)
    assert "max_price" not in emsp.calls("PUT", "/tariffs/")[0].body
    location_id, evse_uid = next(
        (loc["id"], evse["uid"])
        for loc in (sim.location(i) for i in sim.location_ids())
        for evse in loc["evses"]
        if evse["connectors"][0]["tariff_ids"] == ["NL-AC-TIME"]
    )
    session = sim.start_session(location_id, evse_uid)
    sim.advance(2 * 3600)
    sim.stop_session(session["id"])
    cdr = emsp.calls("POST", "/cdrs")[0].body
    assert cdr["total_cost"] == own_excl_vat(sim, cdr["id"])
    assert cdr["total_cost"] > 1  # the 2.2.1 cap would have made it 1


def test_status_patch_and_tariff_put_in_211(linked211: tuple[Simulator, Emsp211]) -> None:
    sim, emsp = linked211
    sim.set_evse_status("LOC000003", "LOC000003-1", "OUTOFORDER")
    patch = emsp.calls("PATCH", "/locations/")[0]
    assert patch.path == "/emsp/2.1.1/locations/NL/SIM/LOC000003/LOC000003-1"
    assert set(patch.body) == {"status", "last_updated"}
    sim.push_tariff("NL-DC")
    tariff = emsp.calls("PUT", "/tariffs/")[0]
    assert tariff.path == "/emsp/2.1.1/tariffs/NL/SIM/NL-DC"
    assert not {"country_code", "party_id", "type", "min_price", "max_price"} & set(tariff.body)
    sim.push_evse("LOC000003", "LOC000003-1")
    evse = emsp.calls("PUT", "/locations/")[0].body
    assert evse["status"] == "OUTOFORDER"
    assert_211_evse(evse)


# tokens, authorization and commands ------------------------------------------------------------


def test_token_receiver_without_type_and_patch_without_last_updated(client211: Client211) -> None:
    url = "/tokens/NL/EMS/012345678"
    assert (
        client211.request("PUT", url, json={k: v for k, v in TOKEN.items() if k != "auth_id"}).json()["status_code"]
        == 2001
    )
    assert client211.request("PUT", url, json=TOKEN).status_code == 201
    assert client211.request("PUT", url, json=TOKEN).status_code == 200
    patch = client211.request("PATCH", url, json={"valid": False})
    assert patch.json()["status_code"] == 1000
    assert client211.data(url) == {**TOKEN, "valid": False}
    kept = client211.sim.token("012345678")
    assert kept is not None
    assert (kept["contract_id"], kept["country_code"], kept["party_id"]) == (TOKEN["auth_id"], "NL", "EMS")
    unknown = client211.request("GET", "/tokens/NL/EMS/NOPE")
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2000)  # 2.1.1 has no 2004
    mismatch = client211.request("PUT", "/tokens/NL/EMS/OTHER", json=TOKEN)
    assert mismatch.json()["status_code"] == 2001


def test_swipe_calls_authorize_and_takes_the_auth_id_from_the_pushed_token(
    linked211: tuple[Simulator, Emsp211], client211: Client211
) -> None:
    sim, emsp = linked211
    client211.request("PUT", "/tokens/NL/EMS/012345678", json=TOKEN)
    result = sim.swipe("012345678", "LOC000004", "LOC000004-1")
    call = emsp.calls("POST", "/authorize")[0]
    assert call.path == "/emsp/2.1.1/tokens/012345678/authorize"
    assert call.body == {"location_id": "LOC000004", "evse_uids": ["LOC000004-1"]}
    assert call.headers["Authorization"] == "Token emsp-token-c"
    assert no_221_headers(call.headers)
    assert result.allowed == "ALLOWED"
    assert result.session_id is not None
    put = emsp.calls("PUT", "/sessions/")[-1].body
    assert (put["auth_id"], put["auth_method"]) == (TOKEN["auth_id"], "AUTH_REQUEST")

    emsp.authorize = lambda uid, body: {"allowed": "BLOCKED", "info": {"language": "en", "text": "Blocked"}}
    blocked = sim.swipe("012345678", "LOC000005", "LOC000005-1")
    assert (blocked.allowed, blocked.session_id) == ("BLOCKED", None)


def test_reserve_unlock_and_refusals_answer_command_responses(
    linked211: tuple[Simulator, Emsp211], client211: Client211
) -> None:
    sim, emsp = linked211
    location = next(
        sim.location(i) for i in sim.location_ids() if "RESERVABLE" in sim.location(i)["evses"][0]["capabilities"]
    )
    evse = location["evses"][0]
    reserve = {
        "token": TOKEN,
        "expiry_date": "2025-03-03T12:00:00Z",
        "location_id": location["id"],
        "evse_uid": evse["uid"],
    }
    as_text = client211.command(emsp, "RESERVE_NOW", reservation_id="7", **reserve)
    assert as_text["status_code"] == 2001  # reservation_id is an int in 2.1.1
    answer = client211.command(emsp, "RESERVE_NOW", reservation_id=7, **reserve)
    assert answer["data"] == {"result": "ACCEPTED"}
    sim.flush()
    assert sim.location(location["id"])["evses"][0]["status"] == "RESERVED"
    cancel = client211.request("POST", "/commands/CANCEL_RESERVATION", json={"response_url": "x", "reservation_id": 7})
    assert cancel.status_code == 404  # no CANCEL_RESERVATION in 2.1.1

    # A charger refusing reaches the EMSP as REJECTED: 2.1.1 has no EVSE_OCCUPIED or FAILED.
    emsp.received.clear()
    other = {**TOKEN, "uid": "OTHER"}
    occupied = client211.command(emsp, "START_SESSION", token=other, location_id=location["id"], evse_uid=evse["uid"])
    assert occupied["data"] == {"result": "ACCEPTED"}
    sim.command_results["UNLOCK_CONNECTOR"] = "FAILED"
    unlock_at = next(
        (loc["id"], e["uid"])
        for loc in (sim.location(i) for i in sim.location_ids())
        for e in loc["evses"]
        if "UNLOCK_CAPABLE" in e["capabilities"]
    )
    unlock = client211.command(
        emsp, "UNLOCK_CONNECTOR", location_id=unlock_at[0], evse_uid=unlock_at[1], connector_id="1"
    )
    assert unlock["data"] == {"result": "ACCEPTED"}
    sim.flush()
    assert [r.body for r in emsp.calls("POST", "/commands/")] == [{"result": "REJECTED"}, {"result": "REJECTED"}]
    assert sim.commands()[1]["body"]["reservation_id"] == 7  # kept as received


# configuration --------------------------------------------------------------------------------


def test_ocpi_version_flag_and_config() -> None:
    assert config_from(build_parser().parse_args(["serve"])).ocpi_version == "2.2.1"
    assert config_from(build_parser().parse_args(["serve", "--ocpi-version", "2.1.1"])).ocpi_version == "2.1.1"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--ocpi-version", "2.0"])
    with pytest.raises(ValueError, match=r"2\.1\.1, 2\.2\.1"):
        Simulator(SimConfig(ocpi_version="2.0", start_time=START))
