"""The task outbox (emsp/lib/tasks.py): a task enqueued in a transaction survives a broker that is down, a
process that exits before running it, and a rollback (which sends nothing)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
import time_machine
from celery import shared_task
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as DjangoSettings

from emsp.celery import app
from emsp.lib.tasks import (
    RUN_LEASE,
    background_tasks,
    enqueue,
    outbox_backlog,
    outbox_sweep,
    wait_for_background_tasks,
)
from emsp.models import OutboxTask
from tests.conftest import closed_port_url

RUNS: list[Any] = []


@shared_task(name="tests.outbox_probe")
def probe(value: Any, *, note: str = "") -> None:
    RUNS.append((value, note))


@pytest.fixture(autouse=True)
def no_runs_yet() -> None:
    RUNS.clear()


class DroppingBroker:
    """A broker that accepts every connection and closes it at once, counting them: each one is an attempt."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.url = f"redis://127.0.0.1:{self.sock.getsockname()[1]}/4"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            client.close()


@pytest.fixture
def dropping_broker() -> Iterator[DroppingBroker]:
    broker = DroppingBroker()
    yield broker
    broker.sock.close()


@pytest.fixture
def blackholed_broker() -> Iterator[str]:
    """A broker that never answers a connection, as behind a firewall that drops packets: a listening socket
    whose backlog is full, so the kernel drops every further SYN."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    address = server.getsockname()
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(address)
    with socket.socket() as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(address)
        except TimeoutError:
            pass
        else:
            pytest.skip("this kernel accepts connections past a full backlog")
    yield f"redis://127.0.0.1:{address[1]}/4"
    for sock in (*fillers, server):
        sock.close()


@pytest.fixture
def redis_queue(broker_url: str, broker_at: Callable[[str], None]) -> Iterator[str]:
    """Tasks go through the real broker, to a queue of this test's own (deleted afterwards)."""
    queue = f"test-outbox-{uuid.uuid4().hex[:12]}"
    broker_at(broker_url)
    app.conf.task_default_queue = queue  # broker_at restores it
    yield queue
    with redis.Redis.from_url(broker_url) as client:
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")  # and kombu's routing


def _queued(url: str, queue: str) -> list[tuple[str, list[Any]]]:
    """The tasks waiting in a Redis queue: (name, args) each, oldest first."""
    with redis.Redis.from_url(url) as client:
        messages = [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def _enqueue_and_roll_back(value: int) -> None:
    with transaction.atomic():
        enqueue(probe, value)
        raise RuntimeError("undone")


# --- In-process (no broker): the suite's mode, and the embedded `make run` ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_enqueued_task_runs_after_commit_and_its_row_is_deleted() -> None:
    with transaction.atomic():
        enqueue(probe, 1, note="a")
        assert OutboxTask.objects.get().task == "tests.outbox_probe"
        assert RUNS == []  # not before the commit
    assert RUNS == [(1, "a")]
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_rollback_writes_no_row_and_runs_nothing() -> None:
    with pytest.raises(RuntimeError, match="undone"):
        _enqueue_and_roll_back(1)
    assert not OutboxTask.objects.exists()
    assert RUNS == []


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_does_not_raise_into_the_caller() -> None:
    with transaction.atomic():
        enqueue(probe, 1, unexpected="argument")
    assert RUNS == []
    assert not OutboxTask.objects.exists()  # it ran (and failed), as a worker would ack it


@pytest.mark.django_db(transaction=True)
def test_in_a_thread_the_row_goes_when_the_run_ends(settings: DjangoSettings) -> None:
    settings.EMSP_EAGER_TASKS_IN_THREAD = True
    enqueue(probe, 2, countdown=0.3)
    assert background_tasks() == ["tests.outbox_probe(2,)"]
    assert OutboxTask.objects.count() == 1
    assert wait_for_background_tasks(30) == []
    assert RUNS == [(2, "")]
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db
def test_a_task_whose_process_exited_before_running_it_is_run_by_the_embedded_sweep(
    settings: DjangoSettings,
) -> None:
    settings.EMSP_EAGER_TASKS_IN_THREAD = True
    # In this test's transaction the commit never comes, so the thread never starts: as for a process
    # that exited between its commit and the run.
    with transaction.atomic():
        enqueue(probe, 3, countdown=5)
    assert background_tasks() == []
    assert outbox_sweep().sent == 0  # not yet due, and leased to the process that enqueued it
    with time_machine.travel(timezone.now() + timedelta(seconds=5) + RUN_LEASE + timedelta(seconds=1)):
        assert outbox_backlog()["due"] == 1
        assert outbox_sweep().sent == 1
    assert RUNS == [(3, "")]
    assert not OutboxTask.objects.exists()


# --- Through a broker ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_broker_down_leaves_the_task_in_the_outbox_after_one_attempt(
    broker_at: Callable[[str], None], dropping_broker: DroppingBroker
) -> None:
    broker_at(dropping_broker.url)
    with transaction.atomic():
        enqueue(probe, 4, countdown=30)
    row = OutboxTask.objects.get()
    assert dropping_broker.connections == 1  # one attempt, no retry loop
    assert (row.task, row.args, row.attempts, row.claimed_until) == ("tests.outbox_probe", [4], 1, None)
    assert row.last_error.startswith("OperationalError: ")
    assert row.run_after > timezone.now() + timedelta(seconds=25)

    # Within the pause after a failure, the next task goes straight to the outbox.
    enqueue(probe, 5)
    assert dropping_broker.connections == 1
    assert OutboxTask.objects.count() == 2

    # The sweeper stops at the first row the broker refuses.
    outcome = outbox_sweep()
    assert (outcome.sent, dropping_broker.connections) == (0, 2)
    assert outcome.error
    assert sorted(OutboxTask.objects.values_list("attempts", flat=True)) == [1, 1]
    assert not OutboxTask.objects.filter(claimed_until__isnull=False).exists()


@pytest.mark.django_db(transaction=True)
def test_rollback_sends_nothing_to_the_broker(
    broker_at: Callable[[str], None], dropping_broker: DroppingBroker
) -> None:
    broker_at(dropping_broker.url)
    with pytest.raises(RuntimeError, match="undone"):
        _enqueue_and_roll_back(6)
    assert dropping_broker.connections == 0
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(20)
def test_a_closed_broker_port_does_not_hold_up_the_caller(broker_at: Callable[[str], None]) -> None:
    broker_at(closed_port_url())
    for value in range(3):
        enqueue(probe, value)
    assert OutboxTask.objects.count() == 3
    assert list(OutboxTask.objects.order_by("pk").values_list("attempts", flat=True)) == [1, 0, 0]  # then paused


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)  # before: the connection waited on the kernel's SYN retries (over 40 s measured)
def test_a_blackholed_broker_holds_up_the_caller_and_the_health_check_for_the_timeout_only(
    client: Client, broker_at: Callable[[str], None], blackholed_broker: str
) -> None:
    broker_at(blackholed_broker)
    enqueue(probe, 12)
    row = OutboxTask.objects.get()
    assert row.attempts == 1
    assert "Timeout" in row.last_error
    assert client.get("/healthz").status_code == 503


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_sweeper_publishes_to_redis_and_deletes_the_rows(
    broker_url: str, broker_at: Callable[[str], None], redis_queue: str
) -> None:
    broker_at(closed_port_url())
    enqueue(probe, 7, note="b")
    enqueue(probe, 8)
    assert OutboxTask.objects.count() == 2

    broker_at(broker_url)
    assert outbox_sweep().sent == 2
    assert not OutboxTask.objects.exists()
    assert _queued(broker_url, redis_queue) == [("tests.outbox_probe", [7]), ("tests.outbox_probe", [8])]


# --- Concurrency (PostgreSQL: SKIP LOCKED) --------------------------------------------------------------

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's")


def _due_rows(count: int) -> list[int]:
    now = timezone.now()
    rows = OutboxTask.objects.bulk_create(
        OutboxTask(task="tests.outbox_probe", args=[n], run_after=now) for n in range(count)
    )
    return [row.pk for row in rows]


def _in_thread(target: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        try:
            result.append(target())
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


@pytest.mark.postgres
@pytest.mark.redis
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_publish_each_row_once(
    broker_url: str, redis_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("emsp.lib.tasks.SWEEP_BATCH", 10)  # many small claims, so the two interleave
    _due_rows(300)
    start = threading.Barrier(2)

    def sweep() -> int:
        start.wait()
        return outbox_sweep().sent

    sweepers = [_in_thread(sweep) for _ in range(2)]
    for thread, _ in sweepers:
        thread.join(60)
    sent = [result[0] for _, result in sweepers]
    assert sum(sent) == 300
    assert all(sent), f"one sweeper took everything ({sent}): they did not run at once"
    published = _queued(broker_url, redis_queue)
    assert sorted(args[0] for _, args in published) == list(range(300))
    assert not OutboxTask.objects.exists()


@pytest.mark.postgres
@pytest.mark.redis
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_sweeper_skips_rows_another_has_locked_instead_of_waiting(broker_url: str, redis_queue: str) -> None:
    ids = _due_rows(10)
    locked, release = threading.Event(), threading.Event()

    def hold_half() -> None:
        with transaction.atomic():
            list(OutboxTask.objects.select_for_update().filter(pk__in=ids[:5]))  # another sweeper's claim
            locked.set()
            release.wait(15)

    holder, _ = _in_thread(hold_half)
    assert locked.wait(15)
    sweeper, result = _in_thread(lambda: outbox_sweep().sent)
    sweeper.join(10)
    finished_while_locked = not sweeper.is_alive()
    release.set()
    holder.join(15)
    sweeper.join(15)
    assert finished_while_locked, "the sweeper waited for the other's locks"
    assert result == [5]
    assert outbox_sweep().sent == 5  # the rest, once the other let go
    assert sorted(args[0] for _, args in _queued(broker_url, redis_queue)) == list(range(10))


# --- What staff and monitoring see ----------------------------------------------------------------------


def _stuck_row(value: int, *, minutes_late: int = 0) -> OutboxTask:
    return OutboxTask.objects.create(
        task="tests.outbox_probe",
        args=[value],
        run_after=timezone.now() - timedelta(minutes=minutes_late),
        attempts=3,
        last_error="OperationalError: Error 111 connecting to 127.0.0.1:6379. Connection refused.",
    )


@pytest.mark.django_db
def test_staff_see_stuck_tasks_and_send_them_now(admin_client: Client) -> None:
    row = _stuck_row(9)
    page = admin_client.get("/admin/emsp/outboxtask/").content.decode()
    assert "tests.outbox_probe" in page
    assert "Connection refused" in page

    page = admin_client.post(
        "/admin/emsp/outboxtask/", {"action": "send_now", "_selected_action": [row.pk]}, follow=True
    ).content.decode()
    assert "1 sent." in page
    assert RUNS == [(9, "")]  # no broker in this run: sending is running it here
    assert not OutboxTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_now_with_the_broker_down_says_so_and_keeps_the_task(
    admin_client: Client, broker_at: Callable[[str], None]
) -> None:
    broker_at(closed_port_url())
    row = _stuck_row(10)
    page = admin_client.post(
        "/admin/emsp/outboxtask/", {"action": "send_now", "_selected_action": [row.pk]}, follow=True
    ).content.decode()
    assert "0 sent; the broker did not take the rest" in page
    row.refresh_from_db()
    assert (row.attempts, row.claimed_until) == (4, None)


@pytest.mark.django_db
def test_healthz_reports_the_outbox_backlog(client: Client) -> None:
    _stuck_row(11, minutes_late=2)
    OutboxTask.objects.create(task="tests.outbox_probe", run_after=timezone.now() + timedelta(minutes=1))  # not due
    outbox = client.get("/healthz").json()["outbox"]
    assert outbox["due"] == 1
    assert 120 <= outbox["oldest_due_seconds"] < 180


@pytest.mark.django_db
@pytest.mark.timeout(20)
def test_healthz_with_the_broker_down_answers_503_at_once(client: Client, broker_at: Callable[[str], None]) -> None:
    broker_at(closed_port_url())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert (response.json()["database"], response.json()["broker"]) == (True, False)
