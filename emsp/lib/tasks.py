"""Sending Celery tasks from request and service code."""

from __future__ import annotations

import threading
import time
from typing import Any

from celery import Task
from django.conf import settings
from django.db import connections, transaction


def _run_in_thread(task: Task, args: tuple[Any, ...], kwargs: dict[str, Any], countdown: float) -> None:
    try:
        if countdown:
            time.sleep(countdown)
        task.apply(args, kwargs)
    finally:
        connections.close_all()


def enqueue(task: Task, *args: Any, countdown: float = 0, **kwargs: Any) -> None:
    """Send `task` once the current transaction commits (never for data a rollback undid), to run no
    sooner than `countdown` seconds from then.

    In the embedded mode there is no broker and tasks run in-process; by default in a background thread,
    so that a partner waiting for our HTTP answer is not held up by, say, a full sync of its locations.
    """

    def send() -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER and settings.EMSP_EAGER_TASKS_IN_THREAD:
            threading.Thread(target=_run_in_thread, args=(task, args, kwargs, countdown), daemon=True).start()
        else:
            task.apply_async(args, kwargs, countdown=countdown)

    transaction.on_commit(send)
