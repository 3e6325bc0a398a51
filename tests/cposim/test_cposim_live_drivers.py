"""The live loop's drivers behave like people: a card charges in one place at a time, some cards are refused
(cards the EMSP blocked, cards it never issued), and drivers stop at the charger or from the app."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import pytest

from cposim import Simulator
from tests.cposim.conftest import Client, FakeEmsp


def _card(uid: str, *, valid: bool = True, whitelist: str = "ALLOWED", type: str = "RFID") -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": uid,
        "type": type,
        "contract_id": f"NL-EMS-C{uid}",
        "issuer": "Fake",
        "valid": valid,
        "whitelist": whitelist,
        "last_updated": "2025-03-01T00:00:00Z",
    }


def _push(client: Client, card: dict[str, Any]) -> None:
    reply = client.request("PUT", f"/tokens/NL/EMS/{card['uid']}?type={card['type']}", json=card)
    assert reply.status_code in (200, 201), reply.text


def _cards_in_sessions(sim: Simulator) -> Counter[str]:
    return Counter(sim.session(s)["cdr_token"]["uid"] for s in sim.active_session_ids())  # type: ignore[index]


@pytest.fixture
def linked_sim(make_sim: Callable[..., Simulator], emsp: FakeEmsp) -> Callable[..., tuple[Simulator, Client]]:
    def make(**config: Any) -> tuple[Simulator, Client]:
        sim = make_sim(**config)
        sim.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
        emsp.received.clear()
        assert sim.inbound_token
        return sim, Client(sim, sim.inbound_token)

    return make


def _refuse_unless(valid_uids: set[str]) -> Callable[[str, Any], tuple[int, dict[str, Any]]]:
    """An EMSP that knows only `valid_uids` as valid cards, refuses those the tests pushed as invalid (BLOCKED) and
    does not know the rest (404, 2004)."""

    def authorize(uid: str, references: Any) -> tuple[int, dict[str, Any]]:
        if uid in valid_uids:
            return 200, {"allowed": "ALLOWED", "token": _card(uid), "authorization_reference": f"AUTH-{uid}"}
        if uid.startswith("BLOCKED"):
            return 200, {"allowed": "BLOCKED", "token": _card(uid, valid=False)}
        return 404, {}

    return authorize


def test_a_card_charges_in_one_place_at_a_time(linked_sim: Any, emsp: FakeEmsp) -> None:
    sim, client = linked_sim(stranger_card_share=0.0)
    _push(client, _card("LIVE1"))
    # A driver arrives every second, each session lasts ten minutes: with one card, one session.
    for _ in range(120):
        sim.live_step(1.0, status_rate=0.0, session_every=1.0, session_seconds=(600, 600), patch_every=60.0)
        assert max(_cards_in_sessions(sim).values(), default=0) <= 1
    assert _cards_in_sessions(sim) == Counter({"LIVE1": 1})
    assert len(emsp.calls("POST", "/authorize")) == 1  # the card was not even swiped elsewhere
    # Once the driver has stopped at the charger, the card charges again (elsewhere or there).
    for _ in range(500):
        sim.live_step(1.0, status_rate=0.0, session_every=1.0, session_seconds=(600, 600), patch_every=60.0)
        assert max(_cards_in_sessions(sim).values(), default=0) <= 1
    assert len(sim.cdrs()) == 1
    assert _cards_in_sessions(sim) == Counter({"LIVE1": 1})
    assert len(sim.sessions()) == 2


def test_several_cards_each_in_one_place(linked_sim: Any, emsp: FakeEmsp) -> None:
    sim, client = linked_sim(stranger_card_share=0.0)
    for n in range(3):
        _push(client, _card(f"CARD{n}"))
    for _ in range(200):
        sim.live_step(1.0, status_rate=0.0, session_every=2.0, session_seconds=(30, 90), patch_every=60.0)
        assert max(_cards_in_sessions(sim).values(), default=0) <= 1
    started = Counter(s["cdr_token"]["uid"] for s in sim.sessions())
    assert set(started) == {"CARD0", "CARD1", "CARD2"}
    # Each card's sessions follow one another: one ends before the card's next one starts.
    for uid in started:
        mine = sorted((s for s in sim.sessions() if s["cdr_token"]["uid"] == uid), key=lambda s: s["id"])
        for before, after in pairwise(mine):
            assert before["end_date_time"] <= after["start_date_time"]


def test_a_card_in_a_session_started_from_the_app_is_not_swiped_elsewhere(linked_sim: Any, emsp: FakeEmsp) -> None:
    sim, client = linked_sim(stranger_card_share=0.0)
    card = _card("App1".upper())
    _push(client, card)
    location = sim.location_ids()[0]
    evse = sim.location(location)["evses"][0]["uid"]
    # As after a START_SESSION command (the uid in another case: OCPI uids ignore case).
    sim.start_session(location, evse, token={**card, "uid": "app1"}, auth_method="COMMAND")
    for _ in range(60):
        sim.live_step(1.0, status_rate=0.0, session_every=1.0, session_seconds=(600, 600), patch_every=60.0)
    assert len(sim.active_session_ids()) == 1
    assert not emsp.calls("POST", "/authorize")


def test_some_swipes_are_refused_blocked_and_unknown_cards(linked_sim: Any, emsp: FakeEmsp) -> None:
    sim, client = linked_sim(stranger_card_share=0.1, invalid_card_tries=0.2)
    emsp.authorize = _refuse_unless({"GOOD1", "GOOD2"})
    for card in (_card("GOOD1"), _card("GOOD2"), _card("BLOCKED1", valid=False)):
        _push(client, card)
    _push(client, _card("APP1", type="APP_USER"))  # app tokens start from the app, not at a charger
    for _ in range(1200):
        sim.live_step(1.0, status_rate=0.0, session_every=2.0, session_seconds=(20, 60), patch_every=60.0)
        assert max(_cards_in_sessions(sim).values(), default=0) <= 1
    swiped = Counter(call.path.split("/")[-2] for call in emsp.calls("POST", "/authorize"))
    strangers = {uid for uid in swiped if uid not in ("GOOD1", "GOOD2", "BLOCKED1")}
    assert swiped["GOOD1"] > 5
    assert swiped["GOOD2"] > 5
    assert swiped["BLOCKED1"] >= 1
    assert strangers
    assert "APP1" not in swiped
    # Refused swipes start nothing: every session is one of the valid cards'.
    assert {s["cdr_token"]["uid"] for s in sim.sessions()} == {"GOOD1", "GOOD2"}


def test_with_the_demo_s_defaults_refusals_are_a_few(linked_sim: Any, emsp: FakeEmsp) -> None:
    """`make run`: three valid cards and a lost one, a driver every 5 s, sessions of 1 to 10 minutes."""
    sim, client = linked_sim()
    emsp.authorize = _refuse_unless({"DEMO0001", "DEMO0002", "DEMO0003"})
    for n in range(1, 4):
        _push(client, _card(f"DEMO000{n}"))
    _push(client, _card("BLOCKED4", valid=False))
    for _ in range(4 * 3600 // 5):  # four hours
        sim.live_step(5.0, status_rate=0.0, session_every=5.0, session_seconds=(60, 600), patch_every=60.0)
        assert max(_cards_in_sessions(sim).values(), default=0) <= 1
    answers = [call.path.split("/")[-2] for call in emsp.calls("POST", "/authorize")]
    refused = [uid for uid in answers if not uid.startswith("DEMO")]
    assert len(sim.sessions()) == len(answers) - len(refused)
    assert 0.03 < len(refused) / len(answers) < 0.25
    assert "BLOCKED4" in refused


def test_a_stop_from_the_app_frees_the_card(linked_sim: Any, emsp: FakeEmsp) -> None:
    sim, client = linked_sim(stranger_card_share=0.0)
    _push(client, _card("LIVE1"))
    sim.live_step(1.0, status_rate=0.0, session_every=1.0, session_seconds=(600, 600), patch_every=60.0)
    (session_id,) = sim.active_session_ids()
    answer = client.request(
        "POST",
        "/commands/STOP_SESSION",
        json={"response_url": f"{emsp.base_url}/emsp/2.2.1/commands/STOP_SESSION/1", "session_id": session_id},
    )
    assert answer.json()["data"]["result"] == "ACCEPTED"
    sim.flush()
    assert sim.active_session_ids() == []
    sim.live_step(1.0, status_rate=0.0, session_every=1.0, session_seconds=(600, 600), patch_every=60.0)
    assert len(sim.active_session_ids()) == 1
    assert len(sim.sessions()) == 2
