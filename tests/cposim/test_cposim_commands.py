"""Commands, tokens and the session → CDR flow, driven deterministically (flush, advance)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from cposim import protocol
from cposim.pricing import price_charging_periods

TOKEN = {
    "country_code": "NL",
    "party_id": "EMS",
    "uid": "ABC123",
    "type": "APP_USER",
    "contract_id": "NL-EMS-C00000123-4",
    "issuer": "Fake EMSP",
    "valid": True,
    "whitelist": "NEVER",
    "last_updated": "2025-03-01T00:00:00Z",
}


def command(client: Any, emsp: Any, name: str, **body: Any) -> dict:
    body.setdefault("response_url", f"{emsp.base_url}/emsp/2.2.1/commands/{name}/cmd-{len(emsp.received)}")
    response = client.request("POST", f"/commands/{name}", json=body)
    assert response.status_code == 200
    return response.json()


def test_start_and_stop_session_flow(linked: Any, client: Any) -> None:
    sim, emsp = linked
    evse = sim.location("LOC000001")["evses"][0]
    answer = command(
        client,
        emsp,
        "START_SESSION",
        token=TOKEN,
        location_id="LOC000001",
        evse_uid=evse["uid"],
        authorization_reference="REF-1",
        response_url=f"{emsp.base_url}/emsp/2.2.1/commands/START_SESSION/abc",
    )
    assert answer["status_code"] == 1000
    assert answer["data"] == {"result": "ACCEPTED", "timeout": 30}
    sim.flush()

    # CommandResult: a bare object POSTed to the response_url, then session PUT PENDING/ACTIVE, EVSE CHARGING.
    result, pending, active, status = emsp.received
    assert (result.method, result.path, result.body) == (
        "POST",
        "/emsp/2.2.1/commands/START_SESSION/abc",
        {"result": "ACCEPTED"},
    )
    session_id = pending.body["id"]
    assert (pending.method, pending.path) == ("PUT", f"/emsp/2.2.1/sessions/NL/SIM/{session_id}")
    assert pending.body["status"] == "PENDING"
    assert active.method == "PUT"
    assert active.body["status"] == "ACTIVE"
    assert active.body["auth_method"] == "COMMAND"
    assert active.body["authorization_reference"] == "REF-1"
    assert active.body["cdr_token"] == {k: TOKEN[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")}
    assert (status.method, status.path) == ("PATCH", f"/emsp/2.2.1/locations/NL/SIM/LOC000001/{evse['uid']}")
    assert status.body["status"] == "CHARGING"
    assert "last_updated" in status.body
    assert sim.commands()[0]["result"] == "ACCEPTED"

    # Charging advances: each advance PATCHes new periods with kwh and a running total_cost.
    emsp.received.clear()
    sim.advance(600)
    sim.advance(600)
    first, second = emsp.calls("PATCH", "/sessions/")
    assert Decimal(str(second.body["kwh"])) > Decimal(str(first.body["kwh"])) > 0
    assert first.body["charging_periods"][0]["start_date_time"] == "2025-03-03T09:30:00Z"
    assert second.body["charging_periods"][0]["start_date_time"] == "2025-03-03T09:40:00Z"
    assert {"kwh", "charging_periods", "total_cost", "last_updated"} <= set(second.body)

    # STOP_SESSION: CommandResult, Session COMPLETED, EVSE AVAILABLE, CDR POSTed.
    sim.advance(60)
    emsp.received.clear()
    answer = command(client, emsp, "STOP_SESSION", session_id=session_id)
    assert answer["data"]["result"] == "ACCEPTED"
    sim.flush()
    methods = [(r.method, r.path.split("/")[3]) for r in emsp.received]
    assert methods == [
        ("POST", "commands"),
        ("PATCH", "sessions"),
        ("PATCH", "locations"),
        ("POST", "cdrs"),
    ]
    final = emsp.received[1].body
    assert final["status"] == "COMPLETED"
    assert final["end_date_time"] == "2025-03-03T09:51:00Z"
    assert emsp.received[2].body["status"] == "AVAILABLE"
    cdr = emsp.received[3].body
    assert cdr["session_id"] == session_id
    assert cdr["cdr_location"]["evse_uid"] == evse["uid"]
    assert cdr["total_time"] == 0.35  # 21 minutes
    assert sim.cdr_info(cdr["id"])["emsp_location"].endswith(f"/cdrs/stored/{cdr['id']}")
    assert sim.session(session_id)["status"] == "COMPLETED"


def test_cdr_total_is_what_the_tariff_gives(linked: Any) -> None:
    sim, emsp = linked
    sim.start_session("LOC000002", "LOC000002-1")
    sim.advance(3 * 3600)
    sim.advance(1800)
    cdr = sim.stop_session(sim.active_session_ids()[0])
    posted = json.loads(json.dumps(emsp.calls("POST", "/cdrs")[0].body), parse_float=Decimal)
    breakdown = price_charging_periods(
        posted["tariffs"],
        posted["charging_periods"],
        protocol.parse_dt(posted["end_date_time"]),
        time_zone=sim.location("LOC000002")["time_zone"],
    )
    assert breakdown.total.as_ocpi() == {k: Decimal(str(v)) for k, v in posted["total_cost"].items()}
    assert cdr["total_energy"] > 0
    periods = posted["charging_periods"]
    assert periods[-1]["dimensions"][0]["type"] == "PARKING_TIME"  # the car got full and stood idle
    total_hours = sum(Decimal(str(d["volume"])) for p in periods for d in p["dimensions"] if d["type"] != "ENERGY")
    assert total_hours == Decimal(str(posted["total_time"]))


def test_charging_periods_are_cut_at_tariff_switch_points(linked: Any) -> None:
    sim, _ = linked
    dc = next(
        (loc["id"], e["uid"])
        for loc in (sim.location(i) for i in sim.location_ids())
        for e in loc["evses"]
        if e["connectors"][0]["tariff_ids"][0].endswith("-DC")
    )
    sim.clock.advance(7 * 3600)  # 16:30 UTC = 17:30 local: inside the 17:00-21:00 peak
    sim.start_session(*dc)
    sim.advance(4 * 3600)  # until 20:30 UTC = 21:30 local
    cdr = sim.stop_session(sim.active_session_ids()[0])
    starts = [p["start_date_time"] for p in cdr["charging_periods"]]
    assert "2025-03-03T20:00:00Z" in starts  # 21:00 Europe/* in winter


def test_start_session_errors(linked: Any, client: Any) -> None:
    sim, emsp = linked
    unknown = command(client, emsp, "START_SESSION", token=TOKEN, location_id="LOC999999")
    assert unknown["status_code"] == 2003
    missing = client.request("POST", "/commands/START_SESSION", json={"token": TOKEN, "location_id": "LOC000001"})
    assert missing.json()["status_code"] == 2001
    assert command(client, emsp, "STOP_SESSION", session_id="nope")["data"]["result"] == "UNKNOWN_SESSION"
    assert client.request("POST", "/commands/DANCE", json={"response_url": "x"}).status_code == 404
    sim.set_evse_status("LOC000001", "LOC000001-1", "OUTOFORDER")
    emsp.received.clear()
    command(client, emsp, "START_SESSION", token=TOKEN, location_id="LOC000001", evse_uid="LOC000001-1")
    sim.flush()
    assert emsp.received[0].body["result"] == "EVSE_INOPERATIVE"
    assert len(emsp.received) == 1


def test_forced_command_outcomes(linked: Any, client: Any) -> None:
    sim, emsp = linked
    sim.command_responses["START_SESSION"] = "REJECTED"
    assert command(client, emsp, "START_SESSION", token=TOKEN, location_id="LOC000001")["data"]["result"] == "REJECTED"
    sim.command_responses.clear()
    sim.command_results["START_SESSION"] = "NONE"
    command(client, emsp, "START_SESSION", token=TOKEN, location_id="LOC000001")
    sim.flush()
    assert emsp.calls("POST", "/commands/") == []
    assert sim.commands()[-1]["result"] == "NONE"
    sim.command_results["START_SESSION"] = "FAILED"
    command(client, emsp, "START_SESSION", token=TOKEN, location_id="LOC000001")
    sim.flush()
    assert emsp.calls("POST", "/commands/")[0].body == {"result": "FAILED"}
    assert sim.sessions() == []


def test_reserve_cancel_and_unlock(linked: Any, client: Any) -> None:
    sim, emsp = linked
    location, evse = next(
        (loc, e)
        for loc in map(sim.location, sim.location_ids())
        for e in loc["evses"][:1]
        if {"RESERVABLE", "UNLOCK_CAPABLE"} <= set(e["capabilities"])
    )
    answer = command(
        client,
        emsp,
        "RESERVE_NOW",
        token=TOKEN,
        expiry_date="2025-03-03T10:30:00Z",
        reservation_id="R1",
        location_id=location["id"],
        evse_uid=evse["uid"],
    )
    assert answer["data"]["result"] == "ACCEPTED"
    sim.flush()
    assert sim.location(location["id"])["evses"][0]["status"] == "RESERVED"
    command(client, emsp, "CANCEL_RESERVATION", reservation_id="R1")
    command(client, emsp, "CANCEL_RESERVATION", reservation_id="R2")
    unlock = command(
        client, emsp, "UNLOCK_CONNECTOR", location_id=location["id"], evse_uid=evse["uid"], connector_id="1"
    )
    assert unlock["data"]["result"] == "ACCEPTED"
    sim.flush()
    results = [r.body["result"] for r in emsp.calls("POST", "/commands/")]
    assert results == ["ACCEPTED", "ACCEPTED", "UNKNOWN_RESERVATION", "ACCEPTED"]
    assert sim.location(location["id"])["evses"][0]["status"] == "AVAILABLE"


def test_token_receiver_put_patch_get(client: Any) -> None:
    url = "/tokens/NL/EMS/ABC123?type=APP_USER"
    assert client.request("PUT", url, json=TOKEN).status_code == 201
    assert client.request("PUT", url, json=TOKEN).status_code == 200
    assert client.get(url).json()["data"] == TOKEN
    patch = client.request("PATCH", url, json={"valid": False})
    assert patch.json()["status_code"] == 2001  # PATCH without last_updated
    patch = client.request("PATCH", url, json={"valid": False, "last_updated": "2025-03-02T00:00:00Z"})
    assert patch.json()["status_code"] == 1000
    assert client.sim.token("ABC123", token_type="APP_USER")["valid"] is False
    assert client.get("/tokens/NL/EMS/ABC123").status_code == 404  # type defaults to RFID
    mismatch = client.request("PUT", "/tokens/NL/EMS/OTHER?type=APP_USER", json=TOKEN)
    assert mismatch.json()["status_code"] == 2001
    assert client.request("PATCH", "/tokens/NL/EMS/NOPE", json={"last_updated": "x"}).status_code == 404


def test_swipe_authorizes_in_real_time_and_starts_only_when_allowed(linked: Any) -> None:
    sim, emsp = linked
    result = sim.swipe("CARD1", "LOC000003", "LOC000003-1")
    assert result.allowed == "ALLOWED"
    authorize = emsp.calls("POST", "/authorize")[0]
    assert authorize.path == "/emsp/2.2.1/tokens/CARD1/authorize"
    assert authorize.query == {"type": "RFID"}
    assert authorize.body == {"location_id": "LOC000003", "evse_uids": ["LOC000003-1"]}
    session = sim.session(result.session_id)
    assert session["auth_method"] == "AUTH_REQUEST"
    assert session["authorization_reference"] == "AUTHCARD1"
    assert session["cdr_token"]["contract_id"] == "NL-EMS-CCARD1"

    emsp.authorize = lambda uid, body: (200, {"allowed": "BLOCKED", "token": {**TOKEN, "uid": uid}})
    blocked = sim.swipe("CARD2", "LOC000004", "LOC000004-1")
    assert blocked.allowed == "BLOCKED"
    assert blocked.session_id is None
    emsp.authorize = lambda uid, body: (404, None)
    unknown = sim.swipe("CARD3", "LOC000004", "LOC000004-1")
    assert unknown.session_id is None
    assert unknown.call.http_status == 404
    assert len(sim.sessions()) == 1


def test_simulator_without_an_emsp_still_charges_and_prices(sim: Any) -> None:
    session = sim.start_session("LOC000001", "LOC000001-1")
    sim.advance(1800)
    cdr = sim.stop_session(session["id"])
    assert cdr["total_cost"]["excl_vat"] >= 0
    assert sim.calls == []


def test_a_restarted_simulator_with_another_prefix_reuses_no_session_id(make_sim: Any) -> None:
    """A simulator without a state file forgets its sessions when it stops; `make run` starts it with a new
    prefix each time, so its new sessions and CDRs do not take the ids of those the EMSP holds from the last run."""
    first = make_sim(session_id_prefix="SA-").start_session("LOC000001", "LOC000001-1")["id"]
    again = make_sim(session_id_prefix="SB-")
    second = again.start_session("LOC000001", "LOC000001-1")["id"]
    assert (first, second) == ("SA-000001", "SB-000001")
    again.advance(1800)
    assert again.stop_session(second)["id"] == "CDR-SB-000001"
