"""Several workers draining one backlog: SELECT ... FOR UPDATE SKIP LOCKED gives each CDR to one of them.

PostgreSQL only (SQLite has no row locks; its writers take turns). Real threads, real transactions.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from billing import receivers, services
from billing.models import CdrPrice
from roaming.models import Partner
from tests.billing.conftest import TARIFF, cdr_body, tariff_url
from tests.roaming.conftest import OcpiTestClient

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks (SKIP LOCKED) are PostgreSQL's"),
]

CDRS = 40
WORKERS = 2


def test_two_workers_price_each_cdr_of_a_backlog_once(cpo: tuple[Partner, str], monkeypatch: Any) -> None:
    ocpi = OcpiTestClient(Client(), cpo[1])
    assert ocpi.put(tariff_url(TARIFF), TARIFF).status_code == 1000
    monkeypatch.setattr(receivers, "_kick", lambda: None)  # a backlog: stored, no worker woken yet
    for n in range(CDRS):
        assert ocpi.post("/ocpi/2.2.1/cdrs", cdr_body(f"CDR-{n}")).http_status == 201
    assert set(CdrPrice.objects.values_list("status", flat=True)) == {"PENDING"}

    priced: list[int] = []
    real_price = services.cdrs_price
    # Each worker's first batch waits until the other holds one too: both hold claims at once, so neither
    # waited for the other's locked rows (without SKIP LOCKED the second would block and the barrier break).
    both_holding = threading.Barrier(WORKERS, timeout=30)
    first = threading.local()

    def price_holding(*, cdr_ids: Iterable[int]) -> services.PricingResult:
        ids = list(cdr_ids)
        priced.extend(ids)
        if not getattr(first, "done", False):
            first.done = True
            both_holding.wait()
        return real_price(cdr_ids=ids)

    monkeypatch.setattr(services, "cdrs_price", price_holding)
    taken = [0] * WORKERS
    errors: list[BaseException] = []
    start = threading.Barrier(WORKERS)

    def worker(n: int) -> None:
        try:
            start.wait()
            while done := services.cdrs_price_pending(limit=5):
                taken[n] += done
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(Counter(priced).values()) == [1] * CDRS  # each CDR priced once
    assert sum(taken) == CDRS
    assert all(taken), taken  # both workers did part of it
    assert CdrPrice.objects.filter(status="PRICED").count() == CDRS
