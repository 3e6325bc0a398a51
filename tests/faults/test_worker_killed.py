"""A Celery worker SIGKILLed in the middle of a task (issue 19, item 4): during a sync, a pricing backlog and
an invoice run. Tasks are acknowledged late (CELERY_TASK_ACKS_LATE), so the task the dead worker held stays in
Redis unacknowledged and is given to the next worker once CELERY_VISIBILITY_TIMEOUT has passed (here 2 s; 3600
in production). After the restart the work is complete and nothing is doubled: each location once with all its
EVSEs, each CDR priced once (a trigger counts the pricings), each driver invoiced once with gap-free numbers.

Real processes: a private redis-server, the worker (prefork, the whole process group killed), the test
database on PostgreSQL; the CPO is the simulator serving HTTP on loopback.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from celery import Task
from django.db import transaction

from billing.models import CdrPrice, Invoice
from billing.tasks import invoice_run_task, price_cdrs_task
from cposim import SimConfig, Simulator
from emsp.celery import app
from emsp.lib.tasks import enqueue
from emsp.models import OutboxTask
from roaming.models import Cdr, Evse, Location, SyncRun
from roaming.services.partners import register_with
from roaming.tasks import sync_partner_task
from tests.billing.factories import a_cdr, a_driver, a_partner
from tests.billing.test_invoicing_processes import assert_one_invoice_each_numbered_without_gaps, drivers_with_charges
from tests.faults.conftest import pricings
from tests.faults.procs import PrivateRedis, Worker, server_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


class Celery:
    """Tasks sent through the private Redis, as production sends them (the outbox, after the commit), to a
    worker that can be killed and started again."""

    def __init__(self, database_url: str, redis_server: PrivateRedis) -> None:
        env = server_env(
            DATABASE_URL=database_url, CELERY_BROKER_URL=redis_server.url(1), REDIS_URL=redis_server.url(0),
            CELERY_VISIBILITY_TIMEOUT="2", BILLING_RENDER_DOCUMENTS="false",  # no 1,500 PDFs after the run
        )  # fmt: skip
        self.worker = Worker(env)
        self.broker_url = redis_server.url(1)

    def send(self, task: Task, *args: Any) -> None:
        with transaction.atomic():
            enqueue(task, *args)
        assert not OutboxTask.objects.exists()  # the broker took it


@pytest.fixture
def celery(on_postgres: str, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    monkeypatch.setenv("CELERY_BROKER_URL", private_redis.url(1))
    monkeypatch.setattr("emsp.lib.tasks._publish_paused_until", 0.0)
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    tasks = Celery(on_postgres, private_redis)
    yield tasks
    tasks.worker.stop()
    app.conf.task_always_eager = eager


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 180) -> None:
    """Polls `condition` (a query) until it holds; bounded, so a test that will never see it fails."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s"
        time.sleep(0.02)


def _kill_when(celery: Celery, started: Callable[[], bool], finished: Callable[[], bool], what: str) -> None:
    """Kill the worker as soon as the task has visibly started, and check it had not finished."""
    _wait_for(started, f"{what} started")
    celery.worker.kill()
    assert not finished(), f"{what} finished before the worker was killed"


def test_a_worker_killed_during_a_sync_leaves_whole_locations_and_the_restarted_worker_completes_it(
    celery: Celery, emsp: str
) -> None:
    locations = 120
    config = SimConfig(seed=19, locations=locations, country_code="NL", party_id="KIL", page_limit=5)
    config.chaos.latency_ms = 100  # 24 pages of 0.1 s at least: the kill lands in the middle
    with Simulator(config) as sim:
        partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
        celery.worker.start()
        celery.send(sync_partner_task, partner.pk, "locations", True)
        _kill_when(
            celery,
            started=lambda: Location.objects.exists(),
            finished=lambda: SyncRun.objects.filter(status="succeeded").exists(),
            what="the sync",
        )
        written = Location.objects.count()
        for location in Location.objects.all():  # whole locations only
            assert location.evses.count() == len(sim.location(location.ocpi_id).get("evses", []))

        celery.worker.start()
        _wait_for(lambda: SyncRun.objects.filter(status="succeeded").exists(), "the sync after the restart")
        theirs = {loc["id"]: {e["uid"] for e in loc.get("evses", [])} for loc in map(sim.location, sim.location_ids())}
    ours: dict[str, set[str]] = {ocpi_id: set() for ocpi_id in Location.objects.values_list("ocpi_id", flat=True)}
    for location_id, uid in Evse.objects.values_list("location__ocpi_id", "uid"):
        ours[location_id].add(uid)
    assert ours == theirs
    assert 0 < written < locations
    print(f"faults: sync killed after {written}/{locations} locations; after the restart {len(ours)}")
    # The killed run is closed by the one that took over (its lock died with the worker), not left running.
    assert Counter(SyncRun.objects.values_list("status", flat=True)) == {"failed": 1, "succeeded": 1}
    assert SyncRun.objects.get(status="failed").error.startswith("interrupted")


def test_a_worker_killed_during_a_pricing_backlog_prices_every_cdr_once_after_the_restart(
    celery: Celery, pricing_audit: str
) -> None:
    count = 4000
    template = a_cdr(a_partner(), a_driver(), start=datetime(2026, 10, 5, 10, tzinfo=UTC))
    fields = {f.attname: getattr(template, f.attname) for f in Cdr._meta.concrete_fields if not f.primary_key}
    cdrs = Cdr.objects.bulk_create(Cdr(**(fields | {"ocpi_id": f"BACKLOG-{n}"})) for n in range(count))
    CdrPrice.objects.bulk_create(CdrPrice(cdr=cdr) for cdr in cdrs)  # PENDING, as the receiver writes them
    template.delete()

    def pending() -> int:
        return CdrPrice.objects.filter(status=CdrPrice.Status.PENDING).count()

    celery.worker.start()
    celery.send(price_cdrs_task)
    _kill_when(celery, started=lambda: pending() < count, finished=lambda: pending() == 0, what="the pricing drain")
    left = pending()

    celery.worker.start()
    _wait_for(lambda: pending() == 0, "the backlog priced after the restart")
    assert 0 < left < count
    print(f"faults: pricing killed with {left}/{count} CDRs pending; after the restart each priced once")
    assert Counter(pricings().values()) == {1: count}  # each CDR priced once, none twice


def test_a_worker_killed_during_an_invoice_run_invoices_each_driver_once_after_the_restart(celery: Celery) -> None:
    drivers = drivers_with_charges(1500)  # three chunks of 500, each committed on its own

    celery.worker.start()
    celery.send(invoice_run_task, None, "2026-10-01")
    _kill_when(
        celery,
        started=lambda: Invoice.objects.exists(),
        finished=lambda: Invoice.objects.count() == len(drivers),
        what="the invoice run",
    )
    issued = Invoice.objects.count()

    celery.worker.start()
    _wait_for(lambda: Invoice.objects.count() >= len(drivers), "every driver invoiced after the restart", 600)
    assert 0 < issued < len(drivers)
    print(f"faults: invoice run killed after {issued}/{len(drivers)} invoices; after the restart one each")
    assert_one_invoice_each_numbered_without_gaps(drivers)
