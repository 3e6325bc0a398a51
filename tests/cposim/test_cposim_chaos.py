"""Chaos switches and deliberately wrong CDR totals: reproducible by seed."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import requests

from cposim import ChaosConfig


def statuses(client: Any, count: int) -> list[int]:
    return [client.get("/locations/LOC000001").status_code for _ in range(count)]


def test_error_share_answers_500_with_an_envelope(client: Any) -> None:
    client.sim.set_chaos(error_share=1.0)
    response = client.get("/locations")
    assert response.status_code == 500
    assert response.json()["status_code"] == 3000
    # Configuration modules stay clean so a handshake can always be made.
    assert client.get(f"{client.sim.versions_url}").status_code == 200
    client.sim.set_chaos(error_share=0.0)
    assert client.get("/locations").status_code == 200


def test_error_share_is_a_share_and_reproducible(make_sim: Any, emsp: Any, client_factory: Any) -> None:
    runs = []
    for _ in range(2):
        sim = make_sim(chaos=ChaosConfig(error_share=0.3))
        emsp.received.clear()
        sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
        runs.append(statuses(client_factory(sim, sim.inbound_token), 200))
    assert runs[0] == runs[1]
    assert 40 <= Counter(runs[0])[500] <= 80


def test_timeouts_hold_the_request_and_close(client: Any) -> None:
    client.sim.set_chaos(timeout_share=1.0, timeout_hold_seconds=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.session.get(f"{client.sim.version_url}/tariffs", timeout=0.1)
    client.sim.set_chaos(timeout_share=0.0)
    assert client.get("/tariffs").status_code == 200


def test_latency_is_added(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The request is held for the configured latency (what it waits for, not a clock reading)."""
    held: list[float | None] = []
    stopping = client.sim._stopping
    real_wait = stopping.wait

    def wait(seconds: float | None = None) -> bool:
        held.append(seconds)
        return real_wait(seconds)

    monkeypatch.setattr(stopping, "wait", wait)
    client.sim.set_chaos(latency_ms=150)
    assert client.get("/tariffs").status_code == 200
    assert held == [0.15]


def test_duplicate_pushes(linked: Any) -> None:
    sim, emsp = linked
    sim.set_chaos(duplicate_share=1.0)
    sim.push_location("LOC000001")
    assert [r.path for r in emsp.received] == ["/emsp/2.2.1/locations/NL/SIM/LOC000001"] * 2
    assert sim.calls[-1].duplicate


def test_out_of_order_pushes(linked: Any) -> None:
    sim, emsp = linked
    sim.set_chaos(out_of_order_share=1.0)
    sim.set_evse_status("LOC000001", "LOC000001-1", "OUTOFORDER")
    assert emsp.received == []  # held back
    sim.set_evse_status("LOC000002", "LOC000002-1", "BLOCKED")
    assert [r.body["status"] for r in emsp.received] == ["BLOCKED", "OUTOFORDER"]
    sim.set_evse_status("LOC000003", "LOC000003-1", "INOPERATIVE")
    sim.flush()  # flush sends what is still held
    assert emsp.received[-1].body["status"] == "INOPERATIVE"


def run_sessions(sim: Any, count: int) -> list[dict]:
    cdrs = []
    for n in range(count):
        location = sim.location_ids()[n % 30]
        session = sim.start_session(location, f"{location}-1")
        sim.advance(1200 + 60 * n)
        cdrs.append(sim.stop_session(session["id"]))
    return cdrs


def test_wrong_total_share(make_sim: Any) -> None:
    sim = make_sim(wrong_total_share=0.25)
    cdrs = run_sessions(sim, 60)
    wrong = [c for c in cdrs if sim.cdr_info(c["id"])["wrong_total"]]
    assert 8 <= len(wrong) <= 22
    for cdr in cdrs:
        info = sim.cdr_info(cdr["id"])
        if info["wrong_total"]:
            assert cdr["total_cost"]["excl_vat"] > info["correct_total"]["excl_vat"]
        else:
            assert cdr["total_cost"] == info["correct_total"]
    again = make_sim(wrong_total_share=0.25)
    assert [c["total_cost"] for c in run_sessions(again, 60)] == [c["total_cost"] for c in cdrs]


def test_correct_totals_by_default(make_sim: Any) -> None:
    sim = make_sim()
    for cdr in run_sessions(sim, 10):
        assert cdr["total_cost"] == sim.cdr_info(cdr["id"])["correct_total"]
        assert cdr["total_cost"]["excl_vat"] >= Decimal(0)


def test_throttle_share_answers_429_with_retry_after_in_an_envelope(client: Any) -> None:
    client.sim.set_chaos(throttle_share=1.0, throttle_retry_after_seconds=7)
    response = client.get("/locations")
    assert (response.status_code, response.json()["status_code"]) == (429, 2000)
    assert response.headers["Retry-After"] == "7"
    client.sim.set_chaos(throttle_share=0.0)
    assert client.get("/locations").status_code == 200


def test_going_down_refuses_connections_and_coming_back_serves_the_same_state(client: Any) -> None:
    before = client.get("/locations/LOC000001").json()["data"]
    client.sim.go_down()
    with pytest.raises(requests.exceptions.ConnectionError):
        client.session.get(f"{client.sim.version_url}/locations", timeout=5)
    client.sim.come_back()
    assert client.get("/locations/LOC000001").json()["data"] == before
