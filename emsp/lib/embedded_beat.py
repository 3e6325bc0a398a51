"""Periodic tasks without Celery beat, for the embedded mode (`make run`: no broker, no beat process).

Runs the platform-wide `beat_schedule` and the enabled django-celery-beat rows (per-partner syncs)
when their Celery schedule says they are due, in-process, one at a time.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


def run_embedded_beat(stop: threading.Event, *, tick: float = 5.0) -> None:
    from django_celery_beat.models import PeriodicTask

    from emsp.celery import app

    app.loader.import_default_modules()  # autodiscovery is lazy; the schedule names tasks by name
    started = timezone.now()
    last_run: dict[str, datetime] = {}
    while not stop.wait(tick):
        close_old_connections()
        due: list[tuple[str, str, list[Any]]] = []
        for name, entry in app.conf.beat_schedule.items():
            if entry["schedule"].is_due(last_run.get(name, started)).is_due:
                due.append((name, entry["task"], list(entry.get("args", ()))))
        for row in PeriodicTask.objects.filter(enabled=True).exclude(name__startswith="celery."):
            if row.schedule.is_due(last_run.get(row.name, row.last_run_at or started)).is_due:
                due.append((row.name, row.task, json.loads(row.args or "[]")))
        for name, task_name, args in due:
            last_run[name] = timezone.now()
            try:
                app.tasks[task_name].apply(args=tuple(args), throw=True)
            except Exception:
                logger.exception("periodic task %s failed", name)


def start_embedded_beat() -> threading.Event:
    stop = threading.Event()
    threading.Thread(target=run_embedded_beat, args=(stop,), name="embedded-beat", daemon=True).start()
    return stop
