"""Shared fixtures. Tests talk to the real database and, where marked, to real Redis and HTTP peers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest
from django.db import connection
from pytest_django.fixtures import Settings as DjangoSettings

from cposim import Simulator
from emsp.celery import app
from roaming.models import Partner
from roaming.services.partners import register_with
from roaming.sync import sync_partner
from tests.integration.conftest import SIM_START, simulated_cpo

ROOT = Path(__file__).resolve().parent.parent


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def closed_port_url() -> str:
    """A Redis URL no one listens at (a port just bound and released): every connection is refused, as when
    Redis is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"redis://127.0.0.1:{port}/4"


@pytest.fixture
def broker_url() -> str:
    """The real broker, when the run is configured with one (CI always is)."""
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    if not url.startswith("redis"):
        pytest.skip("no CELERY_BROKER_URL/REDIS_URL: the embedded run executes tasks in-process")
    if not _reachable(url):
        pytest.fail(f"CELERY_BROKER_URL {url} is set but not reachable")
    return url


@pytest.fixture
def broker_at(monkeypatch: pytest.MonkeyPatch, settings: DjangoSettings) -> Iterator[Callable[[str], None]]:
    """Send tasks through the broker at the URL given, as production does; the rest of the suite runs them
    inline (settings_test). Celery reads CELERY_BROKER_URL from the environment before its settings."""
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False

    def point(url: str) -> None:
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setattr("emsp.lib.tasks._publish_paused_until", 0.0)  # a broker failure of another test

    try:
        yield point
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = eager, default_queue


def _database_url() -> str:
    """The test database, for a process of our own: it must see what the test committed."""
    db: dict[str, Any] = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def route_all_tasks(routes: dict[str, Any], default_queue: str) -> None:
    """Send tasks by these routes from now on (Celery caches its router)."""
    app.conf.task_routes = routes
    app.conf.task_default_queue = default_queue
    app.amqp.flush_routes()
    del app.amqp.router  # built again from the routes when next used


@contextlib.contextmanager
def worker_process(broker_url: str, queues: list[str], *, concurrency: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """A Celery worker in its own process (`celery -A emsp worker`, as deployed) consuming `queues`, on the test
    database (so the test needs one: `django_db`); it sees what the test has committed."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "emsp.settings_test",
        "CELERY_BROKER_URL": broker_url,
        "DATABASE_URL": _database_url(),
    }
    pool = ["--pool=solo"] if concurrency == 1 else ["--pool=threads", f"--concurrency={concurrency}"]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "emsp",
            "worker",
            *pool,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            ",".join(queues),
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def worker(broker_url: str, django_db_setup: None) -> Iterator[str]:
    """A Celery worker in its own process, consuming a queue no other run uses; every task sent during the test
    goes to it, whatever its route (CELERY_TASK_ROUTES)."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    routes, default_queue = app.conf.task_routes, app.conf.task_default_queue
    route_all_tasks({"*": {"queue": queue}}, queue)
    try:
        with worker_process(broker_url, [queue]):
            yield queue
    finally:
        route_all_tasks(routes, default_queue)


@pytest.fixture
def sim(live_server: Any, settings: DjangoSettings) -> Iterator[Simulator]:
    """The CPO simulator, live on loopback, calling us at the live server; its clock stands at SIM_START until a
    test advances it. (tests/integration has its own, which registers with us itself.)"""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    with simulated_cpo(start_time=SIM_START) as simulator:
        yield simulator


@pytest.fixture
def cpo(sim: Simulator) -> Partner:
    """We registered with the simulator and hold its locations and tariffs."""
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    for module in ("locations", "tariffs"):
        assert sync_partner(partner=partner, module=module, full=True).status == "succeeded"
    return partner


@pytest.fixture(autouse=True)
def _anomaly_counts_counted_afresh() -> None:
    """The start page keeps its anomaly counts for minutes (backoffice.dashboard): each test counts its own."""
    from django.core.cache import cache

    from backoffice.dashboard import ANOMALY_CACHE_KEY

    cache.delete(ANOMALY_CACHE_KEY)
