"""Liveness and readiness: is the database answering, and the broker when one is configured."""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse


def check_database() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone() == (1,)


def check_broker() -> bool | None:
    """None when tasks run in-process (no broker to check)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return None
    from emsp.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
    return True


@shared_task(name="emsp.health.ping")
def ping() -> dict[str, Any]:
    """A task the worker answers with its host and database check: proves the whole path works."""
    return {"host": socket.gethostname(), "database": check_database()}


def healthz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, bool | None] = {"database": False, "broker": False}
    try:
        checks["database"] = check_database()
        checks["broker"] = check_broker()
    except Exception:
        import logging

        logging.getLogger(__name__).exception("health check failed")
    ok = all(value is not False for value in checks.values())
    return JsonResponse({"ok": ok, **checks}, status=200 if ok else 503)
