"""Liveness and readiness: is the database answering, and the broker when one is configured; and the work waiting
in the task outbox."""

from __future__ import annotations

import logging
import socket
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from emsp.lib.tasks import bounded_broker_connection, outbox_backlog

logger = logging.getLogger(__name__)


def check_database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def check_broker() -> bool | None:
    """None when tasks run in-process (no broker to check). One attempt, bounded like a publish: with the
    default connection a blackholed broker held the check for over 40 s, past any load balancer's patience."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    with bounded_broker_connection() as conn:
        conn.ensure_connection(max_retries=0)
    return True


@shared_task(name="emsp.health.ping")
def ping() -> dict[str, Any]:
    """A task the worker answers with its host and database check: proves the whole path works."""
    return {"host": socket.gethostname(), "database": check_database()}


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every dependency answers; else 503, and `down` names each that does not (database, broker,
    outbox: tasks the broker has not taken for longer than HEALTH_OUTBOX_MAX_AGE_SECONDS), with `errors` saying
    why. Each check runs on its own: a database that is down does not hide a broker that is down too."""
    checks: dict[str, bool | None] = {"database": False, "broker": False}
    errors: dict[str, str] = {}
    outbox: dict[str, Any] | None = None
    try:
        checks["database"] = check_database()
        # Tasks the broker did not take wait there, and the sweeper sends them; too old, and nothing is sending.
        outbox = outbox_backlog()
    except Exception as exc:
        logger.exception("health check: the database failed")
        errors["database"] = _describe(exc)
    try:
        checks["broker"] = check_broker()
    except Exception as exc:
        logger.warning("health check: the broker failed: %s", _describe(exc))
        errors["broker"] = _describe(exc)
    down = [name for name, ok in checks.items() if ok is False]
    late = (outbox or {}).get("oldest_due_seconds")
    if late is not None and late > settings.HEALTH_OUTBOX_MAX_AGE_SECONDS:
        down.append("outbox")
        errors["outbox"] = (
            f"the oldest due task has waited {late} s (limit {settings.HEALTH_OUTBOX_MAX_AGE_SECONDS} s): "
            "the broker refuses tasks or nothing sweeps the outbox"
        )
    body = {"ok": not down, **checks, "outbox": outbox, "down": down, "errors": errors}
    return JsonResponse(body, status=503 if down else 200)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
