"""What billing does when roaming stores something: queue pricing, after the commit, never inline.

The CDR POST is a hot path: its receiver only records the CDR in the pricing backlog and wakes the workers.
Tariffs and locations re-price the CDRs that were waiting for them (roaming has linked them, or `cdrs_price`
links them first).
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from billing.models import CdrPrice
from billing.services import cdrs_waiting_for
from billing.tasks import price_cdrs_task
from emsp.lib.tasks import enqueue


def cdr_stored(*, cdr_pk: int, **_: Any) -> None:
    """A PENDING price in the CDR's own transaction (the backlog, durable without an outbox row), and a
    wake-up for the workers at most every BILLING_WAKE_UP_SECONDS per process."""
    sql, params = _pending_insert()
    with connection.cursor() as cursor:
        cursor.execute(sql, [cdr_pk, *params])
    transaction.on_commit(_kick)


@cache
def _pending_insert() -> tuple[str, list[Any]]:
    """The INSERT of a PENDING price, built once: `objects.create` of this 35-column model spent 0.4 ms of
    Python per CDR composing it (measured: cdr_store 1.4 ms without the receiver, 2.0-2.3 ms with it)."""
    unsaved = CdrPrice(status=CdrPrice.Status.PENDING)
    fields = [f for f in CdrPrice._meta.concrete_fields if not f.primary_key and f.attname != "cdr_id"]
    columns = ", ".join(connection.ops.quote_name(column) for column in ["cdr_id", *(f.column for f in fields)])
    params = [f.get_db_prep_save(f.pre_save(unsaved, add=True), connection) for f in fields]
    placeholders = ", ".join(["%s"] * (len(fields) + 1))
    table = connection.ops.quote_name(CdrPrice._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", params  # noqa: S608 - names from the model


# One wake-up drains every CDR stored before it runs, so a busy process sends one per interval, not one per
# CDR: each CDR's own publish and outbox row cost the CDR POST more than half its throughput. The wake-up runs
# BILLING_WAKE_UP_SECONDS after the first CDR of its interval was committed, so every CDR committed in that interval is
# in it; the per-minute drain (emsp/celery.py) catches a wake-up the broker did not take.
_next_kick = 0.0


def _kick() -> None:
    global _next_kick
    now, interval = time.monotonic(), settings.BILLING_WAKE_UP_SECONDS
    if now >= _next_kick:
        _next_kick = now + interval
        enqueue(price_cdrs_task, countdown=interval, durable=False)


def _waiting(kind: str, keys: list[tuple[str, str, str]]) -> None:
    if waiting := cdrs_waiting_for(kind=kind, keys=keys):
        enqueue(price_cdrs_task, waiting)


def tariffs_stored(*, keys: list[tuple[str, str, str]], **_: Any) -> None:
    _waiting(CdrPrice.Waiting.TARIFF, keys)


def locations_stored(*, keys: list[tuple[str, str, str]], **_: Any) -> None:
    _waiting(CdrPrice.Waiting.LOCATION, keys)
