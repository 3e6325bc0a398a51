"""What billing does when roaming stores something: queue pricing, after the commit, never inline.

The CDR POST is a hot path: its receiver only enqueues. Tariffs and locations re-price the CDRs that
were waiting for them (roaming has linked them, or `cdrs_price` links them first).
"""

from __future__ import annotations

from typing import Any

from billing.models import CdrPrice
from billing.services import cdrs_waiting_for
from billing.tasks import price_cdrs_task
from emsp.lib.tasks import enqueue


def cdr_stored(*, cdr_pk: int, **_: Any) -> None:
    enqueue(price_cdrs_task, [cdr_pk])


def _waiting(kind: str, keys: list[tuple[str, str, str]]) -> None:
    if waiting := cdrs_waiting_for(kind=kind, keys=keys):
        enqueue(price_cdrs_task, waiting)


def tariffs_stored(*, keys: list[tuple[str, str, str]], **_: Any) -> None:
    _waiting(CdrPrice.Waiting.TARIFF, keys)


def locations_stored(*, keys: list[tuple[str, str, str]], **_: Any) -> None:
    _waiting(CdrPrice.Waiting.LOCATION, keys)
