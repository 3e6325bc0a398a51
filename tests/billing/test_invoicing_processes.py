"""Invoice runs as separate processes on the test database (SQLite file or PostgreSQL): two runs racing, and a
run killed with SIGKILL half way then started again. Each must end with one invoice per driver and numbers
without gaps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.invoicing import billing_zone
from billing.models import Invoice, InvoiceLine, InvoiceSequence, SessionCharge
from drivers.models import Driver
from roaming.models import Cdr
from tests.billing.factories import a_cdr, a_driver, a_partner, a_plan
from tests.conftest import ROOT, _database_url

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD = "2026-10"


def drivers_with_charges(count: int, per_driver: int = 2) -> list[int]:
    """`count` drivers with `per_driver` October charges each, written in bulk (the runs are what is tested)."""
    partner, plan = a_partner(), a_plan()
    template = a_cdr(partner, a_driver(), start=datetime(2026, 10, 5, 10, tzinfo=UTC))
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=f"bulk{n}", email=f"bulk{n}@example.com", first_name="Bulk", last_name=str(n))
        for n in range(count)
    )
    drivers = Driver.objects.bulk_create(Driver(user=user, street="Damrak 1", city="Amsterdam") for user in users)
    fields = {f.attname: getattr(template, f.attname) for f in Cdr._meta.concrete_fields if not f.primary_key}
    cdrs = Cdr.objects.bulk_create(
        Cdr(**(fields | {"ocpi_id": f"BULK-{d.pk}-{k}", "driver_id": d.pk, "token_id": None}))
        for d in drivers
        for k in range(per_driver)
    )
    SessionCharge.objects.bulk_create(
        SessionCharge(
            cdr_id=cdr.pk,
            driver_id=cdr.driver_id,  # type: ignore[misc]  # set on every one above
            plan=plan,
            currency="EUR",
            session_start=cdr.start_date_time,
            session_end=cdr.end_date_time,
            location="Central Garage",
            amount_excl_vat=Decimal("3.3333"),
            vat_rate=Decimal("21"),
        )
        for cdr in cdrs
    )
    template.delete()  # its driver has no charge: not due an invoice
    return [d.pk for d in drivers]


def run_process(*, chunk_size: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "emsp.settings_test", "DATABASE_URL": _database_url()}
    return subprocess.Popen(
        [sys.executable, "manage.py", "invoice_run", "--period", PERIOD, "--chunk-size", str(chunk_size)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def assert_one_invoice_each_numbered_without_gaps(driver_ids: list[int]) -> None:
    year = timezone.now().astimezone(billing_zone()).year
    invoices = list(Invoice.objects.order_by("number").values_list("number", "driver_id"))
    assert sorted(driver for _, driver in invoices) == sorted(driver_ids)  # each once
    assert [number for number, _ in invoices] == [f"INV-{year}-{n:06d}" for n in range(1, len(driver_ids) + 1)]
    assert InvoiceSequence.objects.get(series="INV", year=year).last_number == len(driver_ids)
    assert not SessionCharge.objects.filter(invoice__isnull=True).exists()
    assert InvoiceLine.objects.filter(charge__isnull=False).count() == SessionCharge.objects.count()


def test_two_runs_racing_in_two_processes_number_without_gaps() -> None:
    drivers = drivers_with_charges(120)

    first, second = run_process(chunk_size=5), run_process(chunk_size=7)
    outputs = [process.communicate(timeout=240) for process in (first, second)]

    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert_one_invoice_each_numbered_without_gaps(drivers)
    created = [int(out.decode().split(" drivers, ")[1].split(" invoices")[0]) for out, _ in outputs]
    assert sum(created) == len(drivers)


def test_a_run_killed_half_way_and_started_again_invoices_each_driver_once() -> None:
    drivers = drivers_with_charges(400)

    process = run_process(chunk_size=4)
    deadline = time.monotonic() + 120
    while not Invoice.objects.exists():  # wait for the first chunks to commit
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no invoice after 120 s"
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    issued = Invoice.objects.count()
    assert 0 < issued < len(drivers), "the run finished before it was killed"

    again = run_process(chunk_size=50)
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err

    assert f"{len(drivers) - issued} invoices created" in out.decode()
    assert_one_invoice_each_numbered_without_gaps(drivers)
