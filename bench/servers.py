"""Starting what a benchmark measures: a fresh PostgreSQL database, gunicorn, the CPO simulator."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/emsp_bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL, **extra}


def fresh_database() -> None:
    """Drop and create the benchmark database, then migrate it."""
    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/")
    admin = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env(), check=True)


@contextmanager
def gunicorn(*, port: int, workers: int, threads: int, connections: int = 16, **extra_env: str) -> Iterator[int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bench.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-k",
            "bench.worker.EvenThreadWorker",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            # Each worker takes its share of the load generator's connections (see bench/worker.py).
            "--worker-connections",
            str(-(-connections // workers)),
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env(**extra_env),
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/7")


@contextmanager
def celery_worker(*, concurrency: int) -> Iterator[None]:
    """A Celery worker of the billing queue on the bench database and broker, as production runs pricing. At a
    lower CPU priority (nice 10): on this one machine it shares the cores with gunicorn, and answering CPOs comes
    first; pricing catches up (the bench reports how long after the load)."""
    process = subprocess.Popen(
        ["nice", "-n", "10", sys.executable, "-m", "celery", "-A", "emsp", "worker", "--pool", "prefork",
         "--concurrency", str(concurrency), "-Q", "billing", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


@contextmanager
def simulator(*args: str) -> Iterator[int]:
    """The CPO simulator in its own process, as a real partner would be."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cposim", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, seconds=300)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
