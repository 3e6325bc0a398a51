"""What billing does when roaming stores something: queue pricing, after the commit, never inline.

The CDR POST is a hot path: its receiver only wakes the workers (the CDR's PENDING price, its place in the
pricing backlog, is written by the CDR's own INSERT: billing/apps.py).
Tariffs and locations re-price the CDRs that were waiting for them (roaming has linked them, or `cdrs_price`
links them first).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction

from billing.models import CdrPrice
from billing.services import cdrs_waiting_for
from billing.tasks import price_cdrs_task
from emsp.lib.tasks import enqueue


def cdr_stored(*, cdr_pk: int, **_: Any) -> None:
    """The CDR was stored with its PENDING price (billing/apps.py): wake the workers, at most every
    BILLING_WAKE_UP_SECONDS per process."""
    transaction.on_commit(_kick)


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
