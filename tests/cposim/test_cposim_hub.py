"""`cposim.Hub`: a HUB in front of three simulated CPOs, against the small fake EMSP of conftest.

Handshake both ways with the role HUB, the HubClientInfo list and PUTs, GET ALL merged across the parties
and paged by the hub, a broadcast token push, a command routed to one party with its result relayed back,
and the routing and message-id headers on both legs (spec: transport and format, routing headers).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cposim import Hub, HubConfig
from tests.cposim.conftest import START, FakeEmsp, Received

PARTIES = [("NL", "AAA"), ("BE", "BBB"), ("DE", "CCC")]
TO_HUB = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "HUB"}
FROM_EMSP = {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "EMS"}


@pytest.fixture
def hub() -> Iterator[Hub]:
    # Small pages on both sides: the hub's pages cut across its parties, and it follows the CPOs' pages.
    config = HubConfig(locations=5, page_limit=4, start_time=START, request_timeout=5.0, cpo_options={"page_limit": 3})
    with Hub(config) as running:
        yield running


@pytest.fixture
def linked(hub: Hub, emsp: FakeEmsp) -> tuple[Hub, FakeEmsp]:
    """The fake EMSP registered with the hub (EMSP initiated) and got the hub's ClientInfo PUTs."""
    emsp.register_at(hub)
    hub.flush()
    emsp.received.clear()
    return hub, emsp


@pytest.fixture
def session(linked: tuple[Hub, FakeEmsp]) -> requests.Session:
    """The EMSP's calls to the hub, with its token and its party."""
    _hub, emsp = linked
    assert emsp.token_for_sim
    http = requests.Session()
    http.headers["Authorization"] = "Token " + base64.b64encode(emsp.token_for_sim.encode()).decode()
    http.headers.update(FROM_EMSP)
    return http


def _routing(headers: Any) -> tuple[str | None, ...]:
    names = ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id")
    return tuple(headers.get(name) for name in names)


def _token(received: Received) -> str:
    return base64.b64decode(received.headers["Authorization"].removeprefix("Token ")).decode()


def _next(response: requests.Response) -> str | None:
    found = re.match(r"<([^>]+)>", response.headers.get("Link", ""))
    return found.group(1) if found else None


def _all_pages(http: requests.Session, url: str, **kwargs: Any) -> list[requests.Response]:
    pages = [http.get(url, timeout=5, **kwargs)]
    while (link := _next(pages[-1])) is not None:
        pages.append(http.get(link, timeout=5, **kwargs))
    return pages


def test_the_emsp_registers_with_the_hub_and_is_told_its_parties(hub: Hub, emsp: FakeEmsp) -> None:
    details = requests.get(hub.version_url, headers={"Authorization": f"Token {hub.token_a}"}, timeout=5).json()["data"]
    interfaces = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert {("locations", "SENDER"), ("cdrs", "SENDER"), ("tokens", "RECEIVER"), ("commands", "RECEIVER")} <= interfaces
    assert ("hubclientinfo", "SENDER") in interfaces

    credentials = emsp.register_at(hub)
    assert [(r["role"], r["country_code"], r["party_id"]) for r in credentials["roles"]] == [("HUB", "NL", "HUB")]
    hub.flush()

    puts = emsp.calls("PUT", "/hubclientinfo/")
    assert [p.path for p in puts] == [f"/emsp/2.2.1/hubclientinfo/{cc}/{pid}" for cc, pid in PARTIES]
    assert [(p.body["country_code"], p.body["party_id"], p.body["role"], p.body["status"]) for p in puts] == [
        (cc, pid, "CPO", "CONNECTED") for cc, pid in PARTIES
    ]
    assert {_token(p) for p in puts} == {emsp.accepted_token}
    # A configuration module: no routing headers.
    assert all(_routing(p.headers) == (None, None, None, None) for p in puts)


def test_the_hub_registers_with_the_emsp(hub: Hub, emsp: FakeEmsp) -> None:
    hub.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    (post,) = emsp.calls("POST", "/credentials")
    assert [r["role"] for r in post.body["roles"]] == ["HUB"]
    assert hub.is_registered
    assert hub.outbound_token == emsp.accepted_token
    assert len(emsp.calls("PUT", "/hubclientinfo/")) == 3

    hub.set_client_status(("BE", "BBB"), "OFFLINE")
    last = emsp.calls("PUT", "/hubclientinfo/")[-1]
    assert (last.path, last.body["status"]) == ("/emsp/2.2.1/hubclientinfo/BE/BBB", "OFFLINE")


def test_the_hubclientinfo_list_is_paged(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    pages = _all_pages(session, f"{hub.version_url}/hubclientinfo", params={"limit": 2})
    assert [len(p.json()["data"]) for p in pages] == [2, 1]
    assert {p.headers["X-Total-Count"] for p in pages} == {"3"}
    assert [(c["country_code"], c["party_id"]) for p in pages for c in p.json()["data"]] == PARTIES
    assert _routing(pages[0].headers) == (None, None, None, None)


def test_get_all_merges_the_parties_lists_page_by_page(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    pages = _all_pages(session, f"{hub.version_url}/locations", headers=TO_HUB)
    assert [len(p.json()["data"]) for p in pages] == [4, 4, 4, 3]
    assert {p.headers["X-Total-Count"] for p in pages} == {"15"}
    assert {p.headers["X-Limit"] for p in pages} == {"4"}
    got = [(o["country_code"], o["party_id"], o["id"]) for p in pages for o in p.json()["data"]]
    by_party = list(zip(PARTIES, hub.cpos, strict=True))
    expected = [(*party, location_id) for party, sim in by_party for location_id in sim.location_ids()]
    assert got == expected
    assert expected[0][2] == "AAA-LOC000001"
    assert expected[-1][2] == "CCC-LOC000005"
    # A GET ALL is answered by the hub itself.
    assert _routing(pages[0].headers) == ("NL", "HUB", "NL", "EMS")

    # Filters go to every party and are kept in the hub's links.
    cutoff = sorted(o["last_updated"] for sim in hub.cpos for o in (sim.location(i) for i in sim.location_ids()))[7]
    filtered = _all_pages(session, f"{hub.version_url}/locations", params={"date_from": cutoff}, headers=TO_HUB)
    assert filtered[0].headers["X-Total-Count"] == "8"
    assert sum(len(p.json()["data"]) for p in filtered) == 8
    assert all(o["last_updated"] >= cutoff for p in filtered for o in p.json()["data"])

    tariffs = _all_pages(session, f"{hub.version_url}/tariffs", headers=TO_HUB)
    parties = {(t["country_code"], t["party_id"]) for p in tariffs for t in p.json()["data"]}
    assert parties == set(PARTIES)
    assert sum(len(p.json()["data"]) for p in tariffs) == sum(len(sim.tariffs()) for sim in hub.cpos)


def test_one_object_is_read_from_the_party_addressed(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    location_id = hub.cpos[0].location_ids()[0]
    url = f"{hub.version_url}/locations/{location_id}"
    found = session.get(url, headers={"OCPI-to-country-code": "NL", "OCPI-to-party-id": "AAA"}, timeout=5)
    assert found.json()["data"] == hub.cpos[0].location(location_id)
    assert _routing(found.headers) == ("NL", "AAA", "NL", "EMS")  # the answer of the party, swapped
    elsewhere = session.get(url, headers={"OCPI-to-country-code": "BE", "OCPI-to-party-id": "BBB"}, timeout=5)
    assert (elsewhere.status_code, elsewhere.json()["status_code"]) == (404, 2003)
    nobody = session.get(url, headers={"OCPI-to-country-code": "FR", "OCPI-to-party-id": "XYZ"}, timeout=5)
    assert nobody.status_code == 404


def _token_object(uid: str, valid: bool = True) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-EMS-C{uid}",
        "issuer": "Fake",
        "valid": valid,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-03T09:00:00Z",
    }


def test_a_broadcast_token_push_reaches_every_party(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    url = f"{hub.version_url}/tokens/NL/EMS/04AA11BB"
    headers = {**TO_HUB, "X-Request-ID": "req-1", "X-Correlation-ID": "corr-1"}
    put = session.put(url, params={"type": "RFID"}, json=_token_object("04AA11BB"), headers=headers, timeout=5)
    assert (put.status_code, put.json()["status_code"]) == (201, 1000)
    assert _routing(put.headers) == ("NL", "HUB", "NL", "EMS")
    assert (put.headers["X-Request-ID"], put.headers["X-Correlation-ID"]) == ("req-1", "corr-1")
    assert [sim.token("04AA11BB") is not None for sim in hub.cpos] == [True, True, True]

    legs = [c for c in hub.calls if c.method == "PUT" and "/tokens/NL/EMS/04AA11BB" in c.url]
    # The hub re-sends a broadcast as from itself, to each party; one correlation id, a request id per leg.
    assert [_routing(c.request_headers) for c in legs] == [("NL", "HUB", cc, pid) for cc, pid in PARTIES]
    assert {c.request_headers["X-Correlation-ID"] for c in legs} == {"corr-1"}
    assert len({c.request_headers["X-Request-ID"] for c in legs} | {"req-1"}) == 4

    patch = session.patch(
        url, params={"type": "RFID"}, json={"valid": False, "last_updated": "2025-03-03T10:00:00Z"}, headers=TO_HUB
    )
    assert (patch.status_code, patch.json()["status_code"]) == (200, 1000)
    assert [(sim.token("04AA11BB") or {}).get("valid") for sim in hub.cpos] == [False, False, False]


def _free_evse(hub: Hub, index: int) -> tuple[str, str]:
    sim = hub.cpos[index]
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            if evse["status"] == "AVAILABLE" and "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", []):
                return location_id, evse["uid"]
    raise AssertionError("no free EVSE")


def test_a_command_reaches_only_its_party_and_its_result_comes_back(
    linked: tuple[Hub, FakeEmsp], session: requests.Session
) -> None:
    hub, emsp = linked
    location_id, evse_uid = _free_evse(hub, 1)
    response_url = f"{emsp.base_url}/emsp/2.2.1/commands/START_SESSION/42"
    command = {
        "response_url": response_url,
        "token": _token_object("APP1"),
        "location_id": location_id,
        "evse_uid": evse_uid,
        "authorization_reference": "AUTH42",
    }
    headers = {"OCPI-to-country-code": "BE", "OCPI-to-party-id": "BBB", "X-Request-ID": "r1", "X-Correlation-ID": "c1"}
    answer = session.post(f"{hub.version_url}/commands/START_SESSION", json=command, headers=headers, timeout=5)
    assert answer.json()["data"]["result"] == "ACCEPTED"
    assert _routing(answer.headers) == ("BE", "BBB", "NL", "EMS")
    assert (answer.headers["X-Request-ID"], answer.headers["X-Correlation-ID"]) == ("r1", "c1")
    assert [len(sim.commands()) for sim in hub.cpos] == [0, 1, 0]

    (leg,) = [c for c in hub.calls if c.url.endswith("/commands/START_SESSION")]
    assert _routing(leg.request_headers) == ("NL", "EMS", "BE", "BBB")  # end to end: the EMSP to the party
    assert leg.request_headers["X-Correlation-ID"] == "c1"
    assert leg.request_headers["X-Request-ID"] != "r1"
    relayed_to = hub.cpos[1].commands()[0]["body"]["response_url"]
    assert relayed_to.startswith(hub.inner_versions_url.removesuffix("versions"))
    assert relayed_to != response_url

    hub.flush()
    (result,) = emsp.calls("POST", "/commands/START_SESSION/42")
    assert result.body == {"result": "ACCEPTED"}
    assert _routing(result.headers) == ("BE", "BBB", "NL", "EMS")
    assert _token(result) == emsp.accepted_token
    assert result.headers["X-Request-ID"] != result.headers["X-Correlation-ID"]  # a new id on the hub's leg

    # The session the command started, and its CDR, arrive under the party, through the hub.
    (session_id,) = hub.cpos[1].active_session_ids()
    (pending, active) = emsp.calls("PUT", f"/sessions/BE/BBB/{session_id}")
    assert (pending.body["status"], active.body["status"]) == ("PENDING", "ACTIVE")
    assert active.body["authorization_reference"] == "AUTH42"
    assert _routing(active.headers) == ("BE", "BBB", "NL", "EMS")
    hub.cpos[1].advance(1200)
    cdr = hub.cpos[1].stop_session(session_id)
    (post,) = emsp.calls("POST", "/emsp/2.2.1/cdrs")
    assert (post.body["id"], post.body["party_id"], _routing(post.headers)) == (
        cdr["id"],
        "BBB",
        ("BE", "BBB", "NL", "EMS"),
    )
    info = hub.cpos[1].cdr_info(cdr["id"])
    assert info is not None
    assert info["emsp_location"].startswith(hub.inner_versions_url.removesuffix("versions"))


def test_a_swipe_is_authorized_by_the_emsp_through_the_hub(linked: tuple[Hub, FakeEmsp]) -> None:
    hub, emsp = linked
    location_id, evse_uid = _free_evse(hub, 2)
    swipe = hub.cpos[2].swipe("04CC22DD", location_id, evse_uid)
    assert swipe.allowed == "ALLOWED"
    assert swipe.session_id is not None
    (authorize,) = emsp.calls("POST", "/tokens/04CC22DD/authorize")
    assert authorize.query == {"type": "RFID"}
    assert authorize.body == {"location_id": location_id, "evse_uids": [evse_uid]}
    assert _routing(authorize.headers) == ("DE", "CCC", "NL", "EMS")
    assert _token(authorize) == emsp.accepted_token


def test_commands_must_name_a_party(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    answer = session.post(f"{hub.version_url}/commands/STOP_SESSION", json={"response_url": "x", "session_id": "1"})
    assert (answer.status_code, answer.json()["status_code"]) == (400, 2001)
    assert [len(sim.commands()) for sim in hub.cpos] == [0, 0, 0]


def test_charging_preferences_go_to_the_sessions_party(linked: tuple[Hub, FakeEmsp], session: requests.Session) -> None:
    hub, _ = linked
    sim = hub.cpos[0]
    location_id, evse_uid = next(
        (location_id, evse["uid"])
        for location_id in sim.location_ids()
        for evse in sim.location(location_id)["evses"]
        if evse["status"] == "AVAILABLE" and "CHARGING_PREFERENCES_CAPABLE" in evse.get("capabilities", [])
    )
    charging = sim.start_session(location_id, evse_uid)
    url = f"{hub.version_url}/sessions/{charging['id']}/charging_preferences"
    preferences = {"profile_type": "FAST"}
    answer = session.put(url, json=preferences, headers={"OCPI-to-country-code": "NL", "OCPI-to-party-id": "AAA"})
    assert (answer.status_code, answer.json()["data"]) == (200, "ACCEPTED")
    assert _routing(answer.headers) == ("NL", "AAA", "NL", "EMS")
    assert sim.charging_preferences(charging["id"]) == preferences
