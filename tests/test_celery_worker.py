"""A real task through Redis to a real worker process, and its result back."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emsp.celery import app
from emsp.health import ping

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker(broker_url: str) -> Iterator[str]:
    """A Celery worker in its own process, consuming a queue no other run uses."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "emsp.settings_test", "CELERY_BROKER_URL": broker_url}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "emsp",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            queue,
            "--loglevel=WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        yield queue
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def through_the_broker() -> Iterator[None]:
    """The rest of the suite runs tasks inline (settings_test); this test sends through the broker."""
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = eager


def test_task_runs_on_a_real_worker_through_redis(worker: str, through_the_broker: None) -> None:
    assert app.conf.broker_url.startswith("redis")
    result = ping.apply_async(queue=worker)
    answer = result.get(timeout=60)  # waits for the worker, however long it takes to boot (bounded)
    assert answer["database"] is True
    assert answer["host"]
