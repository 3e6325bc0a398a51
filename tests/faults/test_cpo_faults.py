"""The CPO misbehaves during a sync and during token pushes (issue 19, item 4): it is down (connection
refused), slow, times out, answers HTTP 500 or HTTP 429. Nothing we hold is half-written, the failure is
recorded as worth retrying (not permanent), and once the CPO behaves again the next run converges: every
location as the CPO has it, every token change delivered, in order.

The CPO is the simulator (cposim: its own OCPI implementation, served over HTTP on loopback; its chaos
switches and `go_down`/`come_back`); our side is the test's live server and the sync and push services
the Celery tasks call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import transaction
from pytest_django.fixtures import Settings as DjangoSettings

from cposim import SimConfig, Simulator
from drivers.services import token_block, token_issue
from emsp.celery import app
from roaming.models import Command, Evse, Location, Partner, SyncRun, TokenPushCursor
from roaming.selectors import token_changes_pending
from roaming.services.commands import command_start_session, commands_send_due
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes
from roaming.sync import SyncError, sync_partner
from tests.faults.procs import PrivateRedis, Worker, server_env
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)

LOCATIONS, PAGE = 40, 5


def _down(sim: Simulator) -> Callable[[], None]:
    sim.go_down()
    return sim.come_back


def _chaos(**switches: Any) -> Callable[[Simulator], Callable[[], None]]:
    def apply(sim: Simulator) -> Callable[[], None]:
        sim.set_chaos(**switches)
        return lambda: sim.set_chaos(**dict.fromkeys(switches, 0))

    return apply


#: Each fault: how to start it on the simulator (returns how to end it), and whether a run survives it.
FAULTS: dict[str, tuple[Callable[[Simulator], Callable[[], None]], bool]] = {
    "down": (_down, False),
    "slow": (_chaos(latency_ms=200), True),  # slower than usual, within our timeout
    "timeouts": (_chaos(timeout_share=1.0), False),  # held past our timeout, then closed
    "http-500": (_chaos(error_share=1.0), False),
    "http-429": (_chaos(throttle_share=1.0), False),
    "some-429": (_chaos(throttle_share=0.3), True),  # absorbed by the retries after Retry-After
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    config = SimConfig(seed=19, locations=LOCATIONS, country_code="NL", party_id="FLT", page_limit=PAGE)
    config.chaos.timeout_hold_seconds = 4.0
    config.chaos.throttle_retry_after_seconds = 0
    with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
def partner(emsp: str, sim: Simulator, settings: DjangoSettings) -> Partner:
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    settings.OCPI_CLIENT_TIMEOUT = 2  # a timed-out request costs the test 2 s, not 10 (the CPO holds it 4 s)
    return partner


def _mirrors(sim: Simulator) -> None:
    """We hold every location of the simulator, each with all its EVSEs."""
    theirs = {loc["id"]: {e["uid"] for e in loc.get("evses", [])} for loc in map(sim.location, sim.location_ids())}
    ours: dict[str, set[str]] = {ocpi_id: set() for ocpi_id in Location.objects.values_list("ocpi_id", flat=True)}
    for location_id, uid in Evse.objects.values_list("location__ocpi_id", "uid"):
        ours[location_id].add(uid)
    assert ours == theirs


@pytest.mark.parametrize("fault", FAULTS)
def test_a_sync_during_a_cpo_fault_writes_whole_locations_and_converges_afterwards(
    fault: str, partner: Partner, sim: Simulator
) -> None:
    start, survives = FAULTS[fault]
    ends: list[Callable[[], None]] = []

    def fault_after_the_first_page(run: SyncRun) -> None:
        if not ends:
            ends.append(start(sim))

    if survives:
        run = sync_partner(partner=partner, module="locations", full=True, progress=fault_after_the_first_page)
        assert (run.status, run.seen) == ("succeeded", LOCATIONS)
    else:
        with pytest.raises(SyncError) as failure:
            sync_partner(partner=partner, module="locations", full=True, progress=fault_after_the_first_page)
        assert not failure.value.permanent  # retried by the task, and the next scheduled run resumes
        failed = SyncRun.objects.get()
        assert failed.status == "failed"
        assert Location.objects.count() == failed.pages * PAGE < LOCATIONS  # whole pages only
        for location in Location.objects.all():  # no location with only part of its EVSEs
            assert location.evses.count() == len(sim.location(location.ocpi_id).get("evses", []))
    ends[0]()

    again = sync_partner(partner=partner, module="locations", full=True)
    assert again.status == "succeeded"
    _mirrors(sim)


@pytest.mark.parametrize("fault", FAULTS)
def test_token_changes_made_during_a_cpo_fault_are_delivered_once_it_behaves(
    fault: str, partner: Partner, sim: Simulator
) -> None:
    start, survives = FAULTS[fault]
    driver = make_driver()
    card = token_issue(driver=driver, uid="CARD-A")
    assert push_token_changes(partner=partner).sent == 1

    end = start(sim)
    token_block(token=card)
    token_issue(driver=driver, uid="CARD-B")
    during = push_token_changes(partner=partner)
    cursor = TokenPushCursor.objects.get(partner=partner)
    if survives:
        assert (during.sent, during.error) == (2, "")
    else:
        assert (during.sent, during.permanent) == (0, False)  # kept, and tried again
        assert token_changes_pending(cursor) == 2
        assert sim.token("CARD-B") is None
    end()

    push_token_changes(partner=partner)
    cursor.refresh_from_db()
    assert token_changes_pending(cursor) == 0
    assert sim.token("CARD-A")["valid"] is False  # type: ignore[index]
    assert sim.token("CARD-B")["valid"] is True  # type: ignore[index]


def _command_state(pk: int) -> tuple[str, str]:
    return Command.objects.filter(pk=pk).values_list("state", "response").get()


def _wait_for(condition: Callable[[], bool], attempts: int = 300) -> None:
    """Polls `condition` (a query each time), bounded: a test that never sees it fails after 30 s."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the condition was not met in 30 s")


def test_a_command_sent_while_the_cpo_is_down_is_delivered_by_a_worker_once_it_is_back(
    partner: Partner, sim: Simulator, on_postgres: str, private_redis: PrivateRedis
) -> None:
    """A START_SESSION whose inline POST finds the CPO refusing connections stays PENDING; its next attempt,
    written to the outbox with the command's update and handed to a real broker, is made by a real worker
    (production settings) once the CPO is back: one POST reaches the CPO, the charge starts."""
    assert sync_partner(partner=partner, module="locations", full=True).status == "succeeded"
    evse = Evse.objects.select_related("location").filter(status="AVAILABLE").order_by("pk").first()
    assert evse is not None
    card = token_issue(driver=make_driver(), uid="CARD-CMD")
    worker = Worker(server_env(DATABASE_URL=on_postgres, CELERY_BROKER_URL=private_redis.url(1)))
    worker.start()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False  # our side sends through the broker, as deployed
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CELERY_BROKER_URL", private_redis.url(1))
            patch.setattr("emsp.lib.tasks._publish_paused_until", 0.0)
            sim.go_down()
            started = time.monotonic()
            command = command_start_session(card, evse.location.ocpi_id, evse.uid)
            assert (command.state, command.send_attempts) == ("PENDING", 1)
            assert "ConnectionError" in command.error
            sim.come_back()  # within the 2 s before attempt 2
            _wait_for(lambda: _command_state(command.pk) != ("PENDING", ""))
            delivered_after = time.monotonic() - started
    finally:
        app.conf.task_always_eager = eager
        worker.stop()
    command.refresh_from_db()
    assert (command.response, command.send_attempts, command.error) == ("ACCEPTED", 2, "")
    assert len(sim.commands()) == 1  # the one POST that reached the CPO
    assert sim.commands()[0]["body"] == command.request
    print(f"delivered by the worker {delivered_after:.1f} s after the command was made, attempt 2")
    with transaction.atomic():
        assert commands_send_due().enqueued == 0  # nothing left for the sweeper
    sim.flush()
    command.refresh_from_db()
    assert (command.state, command.result) == ("DONE", "ACCEPTED")
