"""Work kept apart (issue 19, item 3): every task has a queue of its kind, and a pushes worker takes a token push
while the sync worker is held by a long pull. Real Redis, real worker processes, a CPO on loopback HTTP."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings

from drivers.services import token_issue
from emsp.celery import app
from emsp.lib.tasks import enqueue
from emsp.models import OutboxTask
from roaming.models import Partner, PartnerEndpoint, SyncRun
from roaming.tasks import push_tokens_task, sync_partner_task
from tests.conftest import route_all_tasks, worker_process
from tests.roaming.fakecpo import make_driver

QUEUES = {"sync", "billing", "pushes", "default"}


def _registered_tasks() -> set[str]:
    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith(("celery.", "tests."))}


def test_every_registered_task_has_a_route_to_a_known_queue() -> None:
    routes = settings.CELERY_TASK_ROUTES
    assert set(routes) == _registered_tasks()  # none missing, none left over from a renamed task
    assert {route["queue"] for route in routes.values()} == QUEUES
    assert settings.CELERY_TASK_DEFAULT_QUEUE == "default"


@pytest.mark.parametrize(
    ("task", "queue"),
    [
        ("roaming.sync_partner", "sync"),
        ("roaming.hub_clients_pull", "sync"),
        ("billing.price_cdrs", "billing"),
        ("billing.invoice_run", "billing"),
        ("roaming.push_tokens", "pushes"),
        ("roaming.commands_time_out", "pushes"),
        ("emsp.outbox_sweep", "pushes"),
        ("drivers.send_account_email", "default"),
    ],
)
def test_celery_sends_each_kind_of_work_to_its_queue(task: str, queue: str) -> None:
    assert app.amqp.router.route({}, task)["queue"].name == queue


def test_tasks_are_acknowledged_after_they_ran_one_message_at_a_time() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


class _SlowCpo(ThreadingHTTPServer):
    """A CPO whose locations list hangs until the test lets it answer; token PUTs are answered at once."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CpoHandler)
        self.pull_started = threading.Event()
        self.release = threading.Event()
        self.token_puts: list[str] = []
        self.token_put = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/ocpi/2.2.1"


class _CpoHandler(BaseHTTPRequestHandler):
    server: _SlowCpo

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, data: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}).encode()
        self.send_response(200)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.pull_started.set()
        self.server.release.wait(timeout=120)
        self._answer([], {"X-Total-Count": "0", "X-Limit": "100"})

    def do_PUT(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.token_puts.append(self.path)
        self._answer(None)
        self.server.token_put.set()


@pytest.fixture
def slow_cpo() -> Iterator[_SlowCpo]:
    server = _SlowCpo()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.redis
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)  # the workers read what the test committed
def test_a_token_push_is_taken_while_a_long_pull_holds_the_sync_worker(
    slow_cpo: _SlowCpo, broker_url: str, broker_at: Callable[[str], None]
) -> None:
    token = token_issue(driver=make_driver(), uid="04QUEUE1")  # no partner yet: nothing pushed
    partner = Partner.objects.create(name="Slow CPO", status=Partner.Status.REGISTERED, version="2.2.1")
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.save()
    PartnerEndpoint.objects.create(partner=partner, module="locations", role="SENDER", url=f"{slow_cpo.url}/locations")
    PartnerEndpoint.objects.create(partner=partner, module="tokens", role="RECEIVER", url=f"{slow_cpo.url}/tokens")

    # The routing table as configured, on queue names of this run only (others may share the Redis).
    run = uuid.uuid4().hex[:8]
    routes, default_queue = app.conf.task_routes, app.conf.task_default_queue
    physical = {queue: f"{queue}-{run}" for queue in QUEUES}
    route_all_tasks(
        {task: {"queue": physical[route["queue"]]} for task, route in settings.CELERY_TASK_ROUTES.items()},
        physical["default"],
    )
    broker_at(broker_url)
    try:
        with (
            worker_process(broker_url, [physical["sync"]]),  # concurrency 1, as deployed
            worker_process(broker_url, [physical["pushes"]]),
        ):
            enqueue(sync_partner_task, partner.pk, "locations", True)  # sent through the outbox, as in production
            assert slow_cpo.pull_started.wait(timeout=120), "the sync worker never started the pull"

            enqueue(push_tokens_task, partner.pk)
            assert slow_cpo.token_put.wait(timeout=60), "the token push waited behind the pull"
            assert slow_cpo.token_puts == [f"/ocpi/2.2.1/tokens/NL/EMS/{token.uid}?type=RFID"]
            assert SyncRun.objects.get(partner=partner).status == SyncRun.Status.RUNNING  # still hanging at the CPO

            slow_cpo.release.set()
            deadline = time.monotonic() + 60  # let the pull end before its worker is stopped
            while SyncRun.objects.get(partner=partner).status == SyncRun.Status.RUNNING:
                assert time.monotonic() < deadline, "the pull never ended"
                time.sleep(0.2)
            assert not OutboxTask.objects.exists()
    finally:
        route_all_tasks(routes, default_queue)
