"""Sending Celery tasks from request and service code, through a durable outbox.

`enqueue` writes the task to the outbox (`emsp.models.OutboxTask`) in the caller's transaction. Once that
commits, it hands the task to the broker at once and deletes the row. If the broker does not take it (Redis
down, blackholed, restarting), the row stays and `outbox_sweep` (every minute) sends it later. Committed work
thus never loses its follow-up, and the request that committed it neither waits on the broker nor fails
because of it. Before, a credentials POST during a Redis outage waited 19.4 s and answered 500, with the
partner already registered and its first pull lost.

Delivery is at least once: a sender that dies after the broker took a task, before it deleted the row,
leaves it to be sent again after the lease. That is safe because the tasks we enqueue (pulls, token pushes)
are idempotent; a new task must be too.

Without a broker (the embedded mode, `task_always_eager`) the task runs in-process, by default in a
background thread, and the row is deleted when the run ends. If the process exits first, the row stays and
the embedded beat's sweep runs it once the lease has run out.

Cost per task: one INSERT in the caller's transaction and one DELETE after the publish (the publish itself
took 0.5 to 0.8 ms against Redis on loopback). Billing will enqueue a pricing per CDR: keep it at that.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, F, Min, Q, QuerySet
from django.utils import timezone
from kombu import Connection, pools

from emsp.celery import app
from emsp.models import OutboxTask

logger = logging.getLogger(__name__)

# How long a sender has a row before a sweep may take it. A publish is over within the publish timeout (1 s);
# an in-process run may take minutes (a first full pull of a big CPO). A run that outlasts its lease may be
# started again by a sweep: wasted work, not harm, since tasks are idempotent.
PUBLISH_LEASE = timedelta(minutes=1)
RUN_LEASE = timedelta(minutes=5)
# After a failed publish, this process leaves new tasks to the sweeper for this long instead of trying the
# broker again: a blackholed broker costs every attempt the whole publish timeout (1.0 s measured).
PUBLISH_PAUSE_SECONDS = 10.0
SWEEP_BATCH = 200

_publish_paused_until = 0.0  # time.monotonic()
_background: dict[threading.Thread, str] = {}  # in-process runs in threads, with what they run
_background_lock = threading.Lock()


def enqueue(task: Task, *args: Any, countdown: float = 0, durable: bool = True, **kwargs: Any) -> None:
    """Send `task` once the current transaction commits (never for data a rollback undid), to run no
    sooner than `countdown` seconds from then. Arguments must be JSON: they are stored in the outbox.

    `durable=False` skips the outbox, for a task whose work is itself recorded in the database and found by a
    periodic sweep (CDRs waiting for their price): one bounded publish after the commit, no row written or
    deleted. On a hot path that saves an INSERT and a commit of its own per task.

    In the embedded mode there is no broker and tasks run in-process; by default in a background thread,
    so that a partner waiting for our HTTP answer is not held up by, say, a full sync of its locations.
    """
    if not durable:
        transaction.on_commit(partial(_send_without_outbox, task, args, kwargs, countdown), robust=True)
        return
    now = timezone.now()
    run_after = now + timedelta(seconds=countdown)
    in_process = tasks_run_in_process()
    claimed_until: datetime | None = None  # nobody sends it now: the broker failed a moment ago, the sweeper will
    if in_process:
        claimed_until = run_after + RUN_LEASE
    elif time.monotonic() >= _publish_paused_until:
        claimed_until = now + PUBLISH_LEASE
    row = OutboxTask.objects.create(
        task=task.name, args=list(args), kwargs=kwargs, run_after=run_after, claimed_until=claimed_until
    )
    # robust: the caller's data is committed by now, so nothing that follows may raise into its response.
    if in_process:
        transaction.on_commit(partial(_start_in_process, task, row, countdown), robust=True)
    elif claimed_until is not None:
        transaction.on_commit(partial(_send_after_commit, row, countdown), robust=True)


def bounded_broker_connection() -> Connection:
    """A connection to the broker that gives up quickly: one attempt, every socket operation bounded by
    EMSP_TASK_PUBLISH_TIMEOUT.

    Celery's own publish retries the connection for up to `broker_connection_timeout` (6.1 s measured on a
    closed port) and, with the Redis result backend, first subscribes to the task's result, retried 20 times
    a second apart: the 19.4 s a registration waited. Measured on loopback with a 1 s timeout: a closed port
    fails in 3 to 7 ms, a blackholed one (SYN unanswered) and a Redis that accepts but never answers in 1.0 s.
    """
    timeout = settings.EMSP_TASK_PUBLISH_TIMEOUT
    return app.connection_for_write(
        connect_timeout=timeout,
        transport_options={"max_retries": 0, "socket_connect_timeout": timeout, "socket_timeout": timeout},
    )


@dataclass(frozen=True)
class SweepOutcome:
    sent: int  # handed to the broker, or run in-process
    error: str = ""  # why the broker did not take the rest


def outbox_sweep(*, ids: Collection[int] | None = None) -> SweepOutcome:
    """Send the tasks whose time has come and that no one is sending, or run them here without a broker.

    Periodic (emsp/celery.py; the embedded beat without a broker), and the admin's "send now" with `ids`:
    those rows, due or not. Stops at the first row the broker does not take: it is down, and trying every
    row would cost each one the publish timeout.
    """
    in_process = tasks_run_in_process()
    if in_process:
        app.loader.import_default_modules()  # a task is found by its name; autodiscovery is lazy
    sent = 0
    while rows := _claim(ids=ids, lease=RUN_LEASE if in_process else PUBLISH_LEASE):
        if in_process:
            for row in rows:
                task = app.tasks.get(row.task)
                if task is None:
                    logger.error("outbox task %s is unknown here; it stays", row)
                    _record_failure(OutboxTask.objects.filter(pk=row.pk), f"Unknown task {row.task}", release=False)
                    continue
                _run(task, row)
                sent += 1
            continue
        published: list[int] = []
        for position, row in enumerate(rows):
            try:
                _publish(row)
            except Exception as exc:
                logger.warning("outbox: the broker did not take %s (%s); the rest waits for the next sweep", row, exc)
                OutboxTask.objects.filter(pk__in=published).delete()
                _record_failure(OutboxTask.objects.filter(pk=row.pk), exc, release=True)
                OutboxTask.objects.filter(pk__in=[r.pk for r in rows[position + 1 :]]).update(claimed_until=None)
                return SweepOutcome(sent=sent + len(published), error=str(exc))
            published.append(row.pk)
        OutboxTask.objects.filter(pk__in=published).delete()
        sent += len(published)
    return SweepOutcome(sent=sent)


def outbox_backlog() -> dict[str, Any]:
    """Tasks due and not yet sent, and how late the oldest is: work waiting for the broker."""
    now = timezone.now()
    due = OutboxTask.objects.filter(run_after__lte=now).aggregate(count=Count("pk"), oldest=Min("run_after"))
    oldest = due["oldest"]
    return {"due": due["count"], "oldest_due_seconds": round((now - oldest).total_seconds()) if oldest else None}


def background_tasks() -> list[str]:
    """The in-process tasks this process has started in threads and that have not ended."""
    with _background_lock:
        return [name for thread, name in _background.items() if thread.is_alive()]


def wait_for_background_tasks(timeout: float) -> list[str]:
    """Wait up to `timeout` seconds for this process's in-process task threads (a command that exits kills
    them); returns those still running."""
    deadline = time.monotonic() + timeout
    with _background_lock:
        threads = list(_background)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return background_tasks()


def tasks_run_in_process() -> bool:
    """Whether enqueued tasks run in this process (the embedded mode) rather than in workers behind a broker."""
    # Celery's own switch (from CELERY_TASK_ALWAYS_EAGER): with it on, nothing would reach a broker.
    return bool(app.conf.task_always_eager)


def _claim(*, ids: Collection[int] | None, lease: timedelta) -> list[OutboxTask]:
    now = timezone.now()
    rows = OutboxTask.objects.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    rows = rows.filter(pk__in=ids) if ids is not None else rows.filter(run_after__lte=now)
    with transaction.atomic():
        # SKIP LOCKED: sweepers running at once take different rows instead of waiting on each other's.
        # SQLite has no row locks, but takes these transactions one at a time (IMMEDIATE, see settings).
        claimed = list(rows.select_for_update(skip_locked=True).order_by("run_after", "pk")[:SWEEP_BATCH])
        OutboxTask.objects.filter(pk__in=[row.pk for row in claimed]).update(claimed_until=now + lease)
    return claimed


def _publish(row: OutboxTask, countdown: float = 0) -> None:
    """Hand the task to the broker, or raise within about EMSP_TASK_PUBLISH_TIMEOUT. No result is kept:
    nothing reads it, and subscribing to it is what waited 19.4 s on a broker that was down."""
    timeout = settings.EMSP_TASK_PUBLISH_TIMEOUT
    with pools.producers[bounded_broker_connection()].acquire(block=True, timeout=timeout) as producer:
        app.send_task(
            row.task,
            row.args,
            row.kwargs,
            countdown=countdown or None,
            producer=producer,
            retry=False,
            ignore_result=True,
        )


def _send_after_commit(row: OutboxTask, countdown: float) -> None:
    global _publish_paused_until
    if time.monotonic() < _publish_paused_until:  # an earlier task of the same commit found the broker down
        OutboxTask.objects.filter(pk=row.pk).update(claimed_until=None)
        return
    try:
        _publish(row, countdown)
    except Exception as exc:
        _publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
        logger.warning("outbox: the broker did not take %s (%s); the sweeper sends it later", row, exc)
        _record_failure(OutboxTask.objects.filter(pk=row.pk), exc, release=True)
    else:
        OutboxTask.objects.filter(pk=row.pk).delete()


def _send_without_outbox(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], countdown: float) -> None:
    global _publish_paused_until
    row = OutboxTask(task=task.name, args=list(args), kwargs=kwargs)  # not saved: the message to send
    if tasks_run_in_process():
        _start_in_process(task, row, countdown)
    elif time.monotonic() >= _publish_paused_until:
        try:
            _publish(row, countdown)
        except Exception as exc:
            _publish_paused_until = time.monotonic() + PUBLISH_PAUSE_SECONDS
            logger.warning("the broker did not take %s (%s); its periodic sweep does the work later", row, exc)


def _record_failure(rows: QuerySet[OutboxTask], error: Exception | str, *, release: bool) -> None:
    """Count the failure for the admin; `release` lets the next sweep take the rows again."""
    message = f"{type(error).__name__}: {error}" if isinstance(error, Exception) else error
    changes: dict[str, Any] = {"attempts": F("attempts") + 1, "last_error": message[:2000]}
    if release:
        changes["claimed_until"] = None
    rows.update(**changes)


def _start_in_process(task: Task, row: OutboxTask, countdown: float) -> None:
    if not settings.EMSP_EAGER_TASKS_IN_THREAD:
        _run(task, row)
        return
    thread = threading.Thread(target=_run_in_thread, args=(task, row, countdown), daemon=True)
    with _background_lock:
        _background[thread] = str(row)
    thread.start()


def _run_in_thread(task: Task, row: OutboxTask, countdown: float) -> None:
    try:
        if countdown:
            time.sleep(countdown)
        _run(task, row)
    finally:
        with _background_lock:
            _background.pop(threading.current_thread(), None)
        connections.close_all()


def _run(task: Task, row: OutboxTask) -> None:
    """Run the task here and delete its row: it ran, whatever the outcome (a worker acks a failed task too;
    the tasks retry or record their own failures)."""
    try:
        task.apply(row.args, row.kwargs)
    except Exception:
        logger.exception("task %s failed", row)
    finally:
        if row.pk is not None:  # an outbox row (see `durable`)
            OutboxTask.objects.filter(pk=row.pk).delete()
