"""State survives a restart with --db; the live loop steps deterministically."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cposim import SimConfig, Simulator

START = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)


def test_sqlite_state_survives_a_restart(tmp_path: Any, emsp: Any) -> None:
    db = str(tmp_path / "sim.sqlite")
    first = Simulator(SimConfig(db_path=db, start_time=START)).start()
    try:
        first.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
        first.set_evse_status("LOC000002", "LOC000002-1", "OUTOFORDER")
        first.vanish_locations(["LOC000003"])
        session = first.start_session("LOC000001", "LOC000001-1")
        first.advance(900)
        token_a, inbound = first.token_a, first.inbound_token
    finally:
        first.stop()

    second = Simulator(SimConfig(db_path=db, start_time=START)).start()
    try:
        assert second.is_registered
        assert (second.token_a, second.inbound_token) == (token_a, inbound)
        assert second.location("LOC000002")["evses"][0]["status"] == "OUTOFORDER"
        assert "LOC000003" not in second.location_ids()
        assert second.active_session_ids() == [session["id"]]
        second.clock.advance(900)
        cdr = second.stop_session(session["id"])
        assert cdr["total_time"] == 0.5
        assert [c["id"] for c in second.cdrs()] == [cdr["id"]]
    finally:
        second.stop()


def test_live_step_changes_statuses_and_runs_sessions(linked: Any, client: Any) -> None:
    sim, emsp = linked
    token = {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": "LIVE1",
        "type": "RFID",
        "contract_id": "NL-EMS-CLIVE1",
        "issuer": "Fake",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-01T00:00:00Z",
    }
    assert client.request("PUT", "/tokens/NL/EMS/LIVE1", json=token).status_code == 201
    for _ in range(10):
        sim.live_step(1.0, status_rate=2.0, session_every=5.0, session_seconds=(3, 3), patch_every=2.0)
    assert len(emsp.calls("POST", "/authorize")) == 2
    assert len(emsp.calls("PUT", "/sessions/")) == 4  # two sessions, PENDING + ACTIVE each
    assert len(emsp.calls("POST", "/cdrs")) >= 1
    assert len(emsp.calls("PATCH", "/locations/")) >= 20
