"""Tokens and commands against the CPO simulator over HTTP: our tokens pushed to it, its real-time
authorization of an RFID swipe, and START/STOP_SESSION with their results at our response_urls."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from cposim import Simulator
from drivers.models import Driver, Token
from drivers.services import token_block, token_issue
from roaming.models import Authorization, ChargingSession, Command, Partner, TokenPushCursor
from roaming.ocpi.client import OcpiClient
from roaming.selectors import command_for_authorization_reference, token_changes_pending
from roaming.services.commands import command_start_session, command_stop_session, commands_time_out
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes, token_changes_enqueue
from roaming.sync import sync_partner
from tests.roaming.conftest import registered_partner
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(emsp: str, sim: Simulator) -> Partner:
    """We registered with the simulator and mirror its locations."""
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    assert sync_partner(partner=partner, module="locations", full=True).status == "succeeded"
    return partner


@pytest.fixture
def driver() -> Driver:
    return make_driver()


class ResultGate:
    """Holds the simulator's CommandResults until released, so they reach us after we stored the CPO's answer.

    They may overtake it (tests/roaming/test_commands.py covers that), but the in-memory SQLite test database,
    shared between the test and the live server threads, fails instead of waiting when both write at once.
    """

    def __init__(self, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sim = sim
        self.open = threading.Event()
        send = sim.pusher.command_result

        def held(*args: Any, **kwargs: Any) -> Any:
            self.open.wait(timeout=30)
            return send(*args, **kwargs)

        monkeypatch.setattr(sim.pusher, "command_result", held)

    def hold(self) -> None:
        self.open.clear()

    def release(self) -> None:
        """Let every held result go, and return once they (and what follows them) were delivered."""
        self.open.set()
        self.sim.flush()


@pytest.fixture
def results(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResultGate]:
    gate = ResultGate(sim, monkeypatch)
    yield gate
    gate.open.set()


def _available_evses(sim: Simulator, count: int) -> list[tuple[str, str]]:
    """(location_id, evse_uid) of EVSEs that can start a session now."""
    found = []
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            if evse["status"] == "AVAILABLE" and "REMOTE_START_STOP_CAPABLE" in evse.get("capabilities", []):
                found.append((location_id, evse["uid"]))
                if len(found) == count:
                    return found
    raise AssertionError("not enough available EVSEs in the simulated network")


# --- tokens pushed to the CPO --------------------------------------------------------------------------


def test_an_issued_token_is_pushed_to_the_cpo(partner: Partner, sim: Simulator, driver: Driver) -> None:
    card = token_issue(driver=driver, uid="04A1B2C3", visual_number="NL-EMS-000001")
    # After commit, a push to every connected CPO (run in-process here).
    assert token_changes_enqueue() == 1

    theirs = sim.token("04A1B2C3")
    assert theirs is not None
    assert (theirs["country_code"], theirs["party_id"], theirs["uid"], theirs["type"]) == (
        "NL",
        "EMS",
        card.uid,
        "RFID",
    )
    assert (theirs["contract_id"], theirs["valid"], theirs["whitelist"]) == (card.contract_id, True, "ALLOWED")
    assert theirs["visual_number"] == "NL-EMS-000001"
    assert token_changes_pending(TokenPushCursor.objects.get(partner=partner)) == 0


def test_a_card_blocked_while_the_cpo_is_down_is_delivered_once_it_is_back_in_order(
    partner: Partner, sim: Simulator, driver: Driver, admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = token_issue(driver=driver, uid="CARD-A")
    assert push_token_changes(partner=partner).sent == 1

    sim.set_chaos(error_share=1.0)  # every functional request: HTTP 500 + OCPI 3000
    token_block(token=card)
    token_issue(driver=driver, uid="CARD-B")
    outcome = push_token_changes(partner=partner)
    assert (outcome.sent, outcome.permanent) == (0, False)
    assert outcome.error
    cursor = TokenPushCursor.objects.get(partner=partner)
    assert token_changes_pending(cursor) == 2
    assert cursor.failures == 1
    assert "500" in cursor.last_error
    assert sim.token("CARD-A")["valid"] is True  # type: ignore[index]
    assert sim.token("CARD-B") is None
    page = admin_client.get("/admin/roaming/tokenpushcursor/").content.decode()
    assert partner.name in page
    assert "HTTP 500" in page

    sim.set_chaos(error_share=0.0)
    sent: list[str] = []
    put = OcpiClient.put

    def spy(client: OcpiClient, url: str, body: Any, **kwargs: Any) -> Any:
        sent.append(body["uid"])
        return put(client, url, body, **kwargs)

    monkeypatch.setattr(OcpiClient, "put", spy)
    assert push_token_changes(partner=partner).sent == 2
    assert sent == ["CARD-A", "CARD-B"]
    assert sim.token("CARD-A")["valid"] is False  # type: ignore[index]
    assert sim.token("CARD-B")["valid"] is True  # type: ignore[index]
    cursor.refresh_from_db()
    assert (token_changes_pending(cursor), cursor.failures, cursor.last_error) == (0, 0, "")


def test_an_rfid_swipe_is_authorized_in_real_time_and_a_blocked_card_is_refused(
    partner: Partner, sim: Simulator, driver: Driver
) -> None:
    card = token_issue(driver=driver, uid="SWIPE1")
    push_token_changes(partner=partner)
    (location_id, evse_uid), (other_location, other_evse) = _available_evses(sim, 2)

    swipe = sim.swipe("SWIPE1", location_id, evse_uid)
    assert swipe.allowed == "ALLOWED"
    assert swipe.session_id is not None
    reference = swipe.authorization["authorization_reference"]  # type: ignore[index]
    authorization = Authorization.objects.get(reference=reference)
    assert (authorization.partner, authorization.token, authorization.allowed) == (partner, card, "ALLOWED")
    assert (authorization.location_id, authorization.evse_uids) == (location_id, [evse_uid])
    session = sim.session(swipe.session_id)
    assert session is not None
    assert session["authorization_reference"] == reference

    token_block(token=card)
    refused = sim.swipe("SWIPE1", other_location, other_evse)
    assert refused.allowed == "BLOCKED"
    assert refused.session_id is None

    unknown = sim.swipe("NOBODY", other_location, other_evse)
    assert unknown.allowed is None
    assert unknown.call is not None
    assert (unknown.call.http_status, unknown.call.status_code) == (404, 2004)
    assert unknown.session_id is None


# --- commands ------------------------------------------------------------------------------------------


def test_start_session_accepted_and_its_result_arrives_at_its_own_url(
    partner: Partner, sim: Simulator, driver: Driver, results: ResultGate
) -> None:
    card = token_issue(driver=driver, uid="APP1", type=Token.Type.APP_USER, whitelist=Token.Whitelist.NEVER)
    ((location_id, evse_uid),) = _available_evses(sim, 1)

    results.hold()
    command = command_start_session(card, location_id, evse_uid)
    assert (command.state, command.response, command.result) == ("SENT", "ACCEPTED", "")
    results.release()
    command.refresh_from_db()
    assert (command.state, command.result) == ("DONE", "ACCEPTED")

    (received,) = sim.commands()
    assert received["body"]["response_url"] == command.response_url
    (session,) = [s for s in sim.sessions() if s.get("authorization_reference") == command.authorization_reference]
    assert session["cdr_token"]["uid"] == "APP1"
    assert command_for_authorization_reference(session["authorization_reference"]) == command

    # STOP_SESSION for the session the CPO started.
    results.hold()
    stop = command_stop_session(session["id"], partner)
    assert stop.response == "ACCEPTED"
    results.release()
    stop.refresh_from_db()
    assert (stop.state, stop.result) == ("DONE", "ACCEPTED")
    assert sim.session(session["id"])["status"] == "COMPLETED"  # type: ignore[index]


def test_two_start_sessions_in_flight_keep_their_results_apart(
    partner: Partner, sim: Simulator, driver: Driver, results: ResultGate
) -> None:
    (busy_location, busy_evse), (free_location, free_evse) = _available_evses(sim, 2)
    sim.start_session(busy_location, busy_evse)  # someone else is charging there now
    first = token_issue(driver=driver, uid="CARD-1")
    second = token_issue(driver=driver, uid="CARD-2")

    results.hold()  # both are answered before either result comes back
    busy = command_start_session(first, busy_location, busy_evse)
    free = command_start_session(second, free_location, free_evse)
    assert (busy.state, free.state) == ("SENT", "SENT")
    results.release()

    _check_apart(sim, busy, free, first, second)


def test_two_start_sessions_sent_at_the_same_moment_keep_their_results_apart(
    partner: Partner, sim: Simulator, driver: Driver
) -> None:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("threads need a database that waits for locks (PostgreSQL, or SQLite in a file)")
    (busy_location, busy_evse), (free_location, free_evse) = _available_evses(sim, 2)
    sim.start_session(busy_location, busy_evse)
    first = token_issue(driver=driver, uid="CARD-1")
    second = token_issue(driver=driver, uid="CARD-2")
    ready = threading.Barrier(2)

    def start(args: tuple[Token, str, str]) -> int:
        try:
            ready.wait(timeout=10)
            return command_start_session(*args).pk
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        busy_pk, free_pk = pool.map(start, [(first, busy_location, busy_evse), (second, free_location, free_evse)])
    sim.flush()

    _check_apart(sim, Command.objects.get(pk=busy_pk), Command.objects.get(pk=free_pk), first, second)


def _check_apart(sim: Simulator, busy: Command, free: Command, first: Token, second: Token) -> None:
    busy.refresh_from_db()
    free.refresh_from_db()
    assert busy.reference != free.reference
    assert busy.authorization_reference != free.authorization_reference
    assert (busy.token, busy.response, busy.result) == (first, "ACCEPTED", "EVSE_OCCUPIED")
    assert (free.token, free.response, free.result) == (second, "ACCEPTED", "ACCEPTED")
    started = [s for s in sim.sessions() if s.get("auth_method") == "COMMAND"]
    assert [(s["cdr_token"]["uid"], s["authorization_reference"]) for s in started] == [
        ("CARD-2", free.authorization_reference)
    ]
    assert command_for_authorization_reference(free.authorization_reference) == free


def test_a_result_that_never_comes_becomes_timeout(partner: Partner, sim: Simulator, driver: Driver) -> None:
    card = token_issue(driver=driver, uid="CARD-T")
    ((location_id, evse_uid),) = _available_evses(sim, 1)
    sim.command_results["START_SESSION"] = "NONE"

    command = command_start_session(card, location_id, evse_uid)
    sim.flush()
    command.refresh_from_db()
    assert (command.state, command.response, command.result) == ("SENT", "ACCEPTED", "")
    assert command.deadline is not None
    assert command.response_timeout == 30

    assert commands_time_out(now=command.deadline - timedelta(seconds=1)) == 0
    assert commands_time_out(now=command.deadline + timedelta(seconds=1)) == 1
    command.refresh_from_db()
    assert (command.state, command.result, command.result_local) == ("DONE", "TIMEOUT", True)
    assert command_for_authorization_reference(command.authorization_reference) == command


@pytest.mark.parametrize(("forced", "recorded"), [("NONE", "TIMEOUT"), ("FAILED", "FAILED")])
def test_a_session_the_charger_starts_after_a_timeout_or_failed_result_is_accepted_and_linked(
    partner: Partner, sim: Simulator, driver: Driver, admin_client: Client, forced: str, recorded: str
) -> None:
    card = token_issue(driver=driver, uid=f"CARD-{forced}")
    ((location_id, evse_uid),) = _available_evses(sim, 1)
    sim.command_results["START_SESSION"] = forced
    command = command_start_session(card, location_id, evse_uid)
    sim.flush()
    command.refresh_from_db()
    assert command.deadline is not None
    commands_time_out(now=command.deadline + timedelta(seconds=1))
    command.refresh_from_db()
    assert (command.state, command.result) == ("DONE", recorded)
    assert not ChargingSession.objects.exists()

    # The charger starts after all (field notes 4): the CPO pushes the session with the command's reference.
    cdr_token = {"country_code": "NL", "party_id": "EMS", "uid": card.uid, "type": "RFID"}
    started = sim.start_session(
        location_id,
        evse_uid,
        token={**cdr_token, "contract_id": card.contract_id},
        auth_method="COMMAND",
        authorization_reference=command.authorization_reference,
    )

    session = ChargingSession.objects.get(ocpi_id=started["id"])
    assert (session.status, session.token, session.driver) == ("ACTIVE", card, driver)
    assert session.authorization_reference == command.authorization_reference
    assert command_for_authorization_reference(session.authorization_reference) == command
    command.refresh_from_db()
    assert command.result == recorded  # the command's own record is not rewritten
    page = admin_client.get(f"/admin/roaming/chargingsession/{session.pk}/change/").content.decode()
    assert f"/admin/roaming/command/{command.pk}/change/" in page
    assert f"(result {recorded})" in page


def test_a_command_result_from_another_partner_is_404(
    partner: Partner, sim: Simulator, driver: Driver, emsp: str
) -> None:
    card = token_issue(driver=driver, uid="CARD-X")
    ((location_id, evse_uid),) = _available_evses(sim, 1)
    sim.command_results["START_SESSION"] = "NONE"
    command = command_start_session(card, location_id, evse_uid)

    _, intruder_token = registered_partner("Intruder CPO", [("DE", "INT")])
    reply = requests.post(
        command.response_url,
        json={"result": "ACCEPTED"},
        headers={"Authorization": "Token " + base64.b64encode(intruder_token.encode()).decode()},
        timeout=10,
    )
    assert reply.status_code == 404
    assert reply.json()["status_code"] == 2000
    command.refresh_from_db()
    assert command.result == ""
    assert command.deadline is not None
    assert command.deadline > timezone.now()


def test_our_version_details_announce_tokens_and_commands_senders(partner: Partner, sim: Simulator, emsp: str) -> None:
    token = base64.b64encode((sim.outbound_token or "").encode()).decode()
    details = requests.get(f"{emsp}/ocpi/2.2.1", headers={"Authorization": f"Token {token}"}, timeout=10).json()
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in details["data"]["endpoints"]}
    assert endpoints[("tokens", "SENDER")] == f"{emsp}/ocpi/2.2.1/tokens"
    assert endpoints[("commands", "SENDER")] == f"{emsp}/ocpi/2.2.1/commands"
