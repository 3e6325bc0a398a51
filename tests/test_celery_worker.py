"""A real task through Redis to a real worker process, and its result back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from emsp.celery import app
from emsp.health import ping


@pytest.mark.django_db  # the worker answers from the test database
def test_task_runs_on_a_real_worker_through_redis(
    worker: str, broker_url: str, broker_at: Callable[[str], None]
) -> None:
    broker_at(broker_url)
    assert app.conf.broker_url.startswith("redis")
    result = ping.apply_async(queue=worker)
    answer = result.get(timeout=60)  # waits for the worker, however long it takes to boot (bounded)
    assert answer["database"] is True
    assert answer["host"]
