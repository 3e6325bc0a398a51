"""Two workers charging the same CDRs at once write each charge once: the CDR is the charge's key.

PostgreSQL only (SQLite's writers take turns). Real threads, real transactions.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing import charges
from billing.models import CdrPrice, SessionCharge

from .factories import a_cdr, a_driver, a_partner, a_plan

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL"),
]


def test_two_concurrent_charge_runs_write_each_charge_once(monkeypatch: Any) -> None:
    a_plan("PAYG", is_default=True, markup_percent=Decimal("10"))
    driver, partner = a_driver(), a_partner()
    cdrs = [a_cdr(partner, driver) for _ in range(10)]
    for cdr in cdrs:
        CdrPrice.objects.create(cdr=cdr, status=CdrPrice.Status.PRICED, currency="EUR", total_excl_vat=Decimal("9"))

    # Both runs have found no charge yet before either writes one.
    both_read = threading.Barrier(2, timeout=30)
    real = charges._max_powers

    def after_reading(cdr_rows: list[Any]) -> Any:
        both_read.wait()
        return real(cdr_rows)

    monkeypatch.setattr(charges, "_max_powers", after_reading)
    written: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            written.append(charges.charges_create(cdr_ids=[c.pk for c in cdrs]))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert written == [10, 10]  # each computed all ten; the database kept one of each
    assert SessionCharge.objects.count() == 10
    driver.refresh_from_db()
    assert driver.uninvoiced == Decimal("119.79")  # 10 x 9.90 x 1.21
