"""Commands from the back office against the CPO simulator over HTTP: a support user starts a session on a
driver's card, stops it from the session's page, unlocks a connector, reserves and cancels, and sends a
command that timed out again. The command's page shows the outcome as it arrives (it reloads itself while
the result is pending)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from cposim import Simulator
from drivers.models import Driver, Token
from drivers.services import token_issue
from roaming.models import ChargingSession, Command, Evse, Partner
from roaming.services.commands import commands_time_out
from roaming.services.partners import register_with
from roaming.sync import sync_partner
from tests.integration.test_tokens_and_commands import ResultGate
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)

REFRESH = '<meta http-equiv="refresh"'


@pytest.fixture
def partner(emsp: str, sim: Simulator) -> Partner:
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    assert sync_partner(partner=partner, module="locations", full=True).status == "succeeded"
    return partner


@pytest.fixture
def results(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResultGate]:
    """The simulator's CommandResults held until released: the command's page shows them pending first."""
    gate = ResultGate(sim, monkeypatch)
    yield gate
    gate.open.set()


@pytest.fixture
def driver() -> Driver:
    return make_driver()


@pytest.fixture
def support() -> User:
    """A support agent: the group the migration made, nothing else."""
    user = get_user_model().objects.create_user("agent", "agent@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name="support"))
    return user


@pytest.fixture
def agent(client: Client, support: User) -> Client:
    client.force_login(support)
    return client


def _evse(sim: Simulator, capability: str) -> tuple[Evse, str]:
    """An available EVSE of ours with the capability at the simulator, and its first connector id."""
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            if evse["status"] == "AVAILABLE" and capability in evse.get("capabilities", []):
                ours = Evse.objects.select_related("location").get(location__ocpi_id=location_id, uid=evse["uid"])
                return ours, evse["connectors"][0]["id"]
    raise AssertionError(f"no available EVSE with {capability} in the simulated network")


def _sent(reply: Any) -> Command:
    """The command a send view created: it redirects to the command's page."""
    assert reply.status_code == 302, reply.content.decode()[:2000]
    command = Command.objects.order_by("-pk").first()
    assert command is not None
    assert reply["Location"] == f"/admin/roaming/command/{command.pk}/change/"
    return command


def _page(client: Client, command: Command) -> str:
    reply = client.get(f"/admin/roaming/command/{command.pk}/change/")
    assert reply.status_code == 200
    return str(reply.content.decode())


def test_a_support_agent_starts_a_session_on_a_card_and_stops_it_from_the_session_page(
    partner: Partner, sim: Simulator, driver: Driver, agent: Client, support: User, results: ResultGate
) -> None:
    card = token_issue(driver=driver, uid="CARD-ADMIN-1")
    evse, _ = _evse(sim, "REMOTE_START_STOP_CAPABLE")
    assert "Start a session" in agent.get("/admin/roaming/command/").content.decode()
    card_page = agent.get(f"/admin/drivers/token/{card.pk}/change/").content.decode()
    assert f"/admin/roaming/command/start/?token={card.pk}" in card_page
    form = agent.get("/admin/roaming/command/start/", {"token": card.pk, "evse": evse.pk}).content.decode()
    assert f'value="{card.pk}"' in form

    results.hold()
    start = _sent(agent.post("/admin/roaming/command/start/", {"token": card.pk, "evse": evse.pk}))
    assert (start.type, start.token, start.evse_uid, start.state, start.response) == (
        "START_SESSION",
        card,
        evse.uid,
        "SENT",
        "ACCEPTED",
    )
    pending = _page(agent, start)
    assert REFRESH in pending
    assert "Waiting for the charger." in pending
    entry = LogEntry.objects.get(object_id=str(start.pk), action_flag=ADDITION)
    assert entry.user == support

    results.release()
    done = _page(agent, start)
    assert REFRESH not in done
    assert "<strong>accepted</strong>" in done
    session = ChargingSession.objects.get(authorization_reference=start.authorization_reference)
    assert f"/admin/roaming/chargingsession/{session.pk}/change/" in done
    assert "retry-command" not in done

    # The session's page has the stop button while it is live.
    page = agent.get(f"/admin/roaming/chargingsession/{session.pk}/change/").content.decode()
    assert 'id="stop-session"' in page
    results.hold()
    stop = _sent(agent.post(f"/admin/roaming/command/stop/{session.pk}/"))
    assert (stop.type, stop.session_id, stop.token, stop.response) == (
        "STOP_SESSION",
        session.ocpi_id,
        card,
        "ACCEPTED",
    )
    assert REFRESH in _page(agent, stop)
    results.release()
    stop.refresh_from_db()
    assert (stop.state, stop.result) == ("DONE", "ACCEPTED")
    assert sim.session(session.ocpi_id)["status"] == "COMPLETED"  # type: ignore[index]
    session.refresh_from_db()
    assert not session.is_live
    assert 'id="stop-session"' not in agent.get(f"/admin/roaming/chargingsession/{session.pk}/change/").content.decode()
    refused = agent.post(f"/admin/roaming/command/stop/{session.pk}/")
    assert refused.status_code == 200
    assert "there is nothing to stop" in refused.content.decode()


def test_a_support_agent_unlocks_a_connector(partner: Partner, sim: Simulator, agent: Client) -> None:
    evse, connector_id = _evse(sim, "UNLOCK_CAPABLE")
    wrong = agent.post("/admin/roaming/command/unlock/", {"evse": evse.pk, "connector_id": "99"})
    assert wrong.status_code == 200
    assert "has no connector 99" in wrong.content.decode()
    assert not Command.objects.exists()

    unlock = _sent(agent.post("/admin/roaming/command/unlock/", {"evse": evse.pk, "connector_id": connector_id}))
    sim.flush()
    unlock.refresh_from_db()
    assert (unlock.type, unlock.evse_uid, unlock.connector_id) == ("UNLOCK_CONNECTOR", evse.uid, connector_id)
    assert (unlock.response, unlock.result) == ("ACCEPTED", "ACCEPTED")
    (received,) = sim.commands()
    assert received["body"]["connector_id"] == connector_id
    assert "<strong>accepted</strong>" in _page(agent, unlock)


def test_a_support_agent_reserves_an_evse_and_cancels_the_reservation(
    partner: Partner, sim: Simulator, driver: Driver, agent: Client
) -> None:
    card = token_issue(driver=driver, uid="CARD-RESERVE")
    evse, _ = _evse(sim, "RESERVABLE")
    expiry = (timezone.now() + timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S")
    reserve = _sent(
        agent.post("/admin/roaming/command/reserve/", {"token": card.pk, "evse": evse.pk, "expiry": expiry})
    )
    sim.flush()
    reserve.refresh_from_db()
    assert (reserve.type, reserve.token, reserve.response, reserve.result) == (
        "RESERVE_NOW",
        card,
        "ACCEPTED",
        "ACCEPTED",
    )
    assert sim.location(evse.location.ocpi_id)["evses"][_index(sim, evse)]["status"] == "RESERVED"

    page = _page(agent, reserve)
    assert f"/admin/roaming/command/{reserve.pk}/cancel-reservation/" in page
    assert (
        "Cancel a reservation" in agent.get(f"/admin/roaming/command/{reserve.pk}/cancel-reservation/").content.decode()
    )
    cancel = _sent(agent.post(f"/admin/roaming/command/{reserve.pk}/cancel-reservation/"))
    sim.flush()
    cancel.refresh_from_db()
    assert (cancel.type, cancel.reservation_id, cancel.result) == (
        "CANCEL_RESERVATION",
        reserve.reservation_id,
        "ACCEPTED",
    )
    assert sim.location(evse.location.ocpi_id)["evses"][_index(sim, evse)]["status"] == "AVAILABLE"


def _index(sim: Simulator, evse: Evse) -> int:
    uids = [e["uid"] for e in sim.location(evse.location.ocpi_id)["evses"]]
    return uids.index(evse.uid)


def test_a_start_that_timed_out_is_sent_again_once_with_the_same_parameters(
    partner: Partner, sim: Simulator, driver: Driver, agent: Client
) -> None:
    card = token_issue(driver=driver, uid="CARD-TIMEOUT", type=Token.Type.RFID)
    evse, connector_id = _evse(sim, "REMOTE_START_STOP_CAPABLE")
    sim.command_results["START_SESSION"] = "NONE"  # the charger never answers
    first = _sent(
        agent.post("/admin/roaming/command/start/", {"token": card.pk, "evse": evse.pk, "connector_id": connector_id})
    )
    sim.flush()
    pending = _page(agent, first)
    assert REFRESH in pending
    assert "retry-command" not in pending  # not while it may still come

    first.refresh_from_db()
    assert first.deadline is not None
    assert commands_time_out(now=first.deadline + timedelta(seconds=1)) == 1
    timed_out = _page(agent, first)
    assert REFRESH not in timed_out
    assert "<strong>timed out</strong>" in timed_out
    assert 'id="retry-command"' in timed_out

    del sim.command_results["START_SESSION"]  # now the charger answers
    retry = _sent(agent.post(f"/admin/roaming/command/{first.pk}/retry/"))
    sim.flush()
    retry.refresh_from_db()
    assert retry.retry_of == first
    assert (retry.type, retry.token, retry.location_id, retry.evse_uid, retry.connector_id) == (
        "START_SESSION",
        card,
        first.location_id,
        first.evse_uid,
        connector_id,
    )
    assert retry.authorization_reference != first.authorization_reference
    assert retry.reference != first.reference
    assert (retry.response, retry.result) == ("ACCEPTED", "ACCEPTED")
    assert ChargingSession.objects.filter(authorization_reference=retry.authorization_reference).exists()
    assert [c["body"]["evse_uid"] for c in sim.commands()] == [evse.uid, evse.uid]

    page = _page(agent, first)
    assert f"/admin/roaming/command/{retry.pk}/change/" in page  # "retried as"
    assert "retry-command" not in page
    assert f"/admin/roaming/command/{first.pk}/change/" in _page(agent, retry)  # "a retry of"

    # Once only: a second click on the first command's button sends nothing.
    again = agent.post(f"/admin/roaming/command/{first.pk}/retry/", follow=True)
    assert "was retried already" in again.content.decode()
    assert Command.objects.count() == 2
    assert len(sim.commands()) == 2
