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
    checks: dict[str, bool | None] = {"database": False, "broker": False}
    outbox: dict[str, Any] | None = None
    try:
        checks["database"] = check_database()
        # For monitoring, not for `ok`: tasks the broker did not take wait there, and the sweeper sends them.
        outbox = outbox_backlog()
        checks["broker"] = check_broker()
    except Exception:
        logger.exception("health check failed")
    ok = all(value is not False for value in checks.values())
    return JsonResponse({"ok": ok, **checks, "outbox": outbox}, status=200 if ok else 503)
