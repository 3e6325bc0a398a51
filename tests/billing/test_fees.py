"""Fees passed on: a reminder's fee and the bank's fee for a returned direct debit go on the driver's next
invoice, once, without VAT, in the driver's language; until then they count in the driver's balance."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from pytest_django.fixtures import Settings

from billing.collection import payment_record, payment_return
from billing.dunning import dunning_run
from billing.invoicing import invoice_run
from billing.models import Fee, Invoice, InvoiceLine, Payment
from drivers.models import Driver

from .factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db

OCTOBER = date(2026, 10, 1)


def _uninvoiced(driver: Driver) -> Decimal:
    driver.refresh_from_db()
    return driver.uninvoiced


def _debit(invoice: Invoice) -> Payment:
    return payment_record(
        invoice=invoice, amount=invoice.total_incl_vat, received_on=date(2026, 10, 20), method="DIRECT_DEBIT"
    )


def test_the_second_reminder_fee_goes_on_the_next_invoice_once(settings: Settings) -> None:
    settings.BILLING_REMINDER_FEES = ["0", "5.00"]
    joost = a_driver("Joost Bakker", language="nl")
    overdue = an_invoice(joost, "121.00", number="INV-2026-000007", due_date=date(2026, 9, 1))

    dunning_run(today=date(2026, 9, 8))  # the first reminder: no fee
    assert not Fee.objects.exists()
    dunning_run(today=date(2026, 9, 22))  # the second: 5.00
    (fee,) = Fee.objects.all()
    assert (fee.kind, fee.amount, fee.incurred_on, fee.for_invoice) == (
        "REMINDER",
        Decimal("5.00"),
        date(2026, 9, 22),
        overdue,
    )
    assert fee.reminder is not None
    assert fee.reminder.level == 2
    assert _uninvoiced(joost) == Decimal("5.00")  # counts against the credit limit until it is invoiced

    with time_machine.travel(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), tick=False):
        invoice_run(period=OCTOBER)
        invoice_run(period=date(2026, 9, 1))  # September, run late: the fee is on October's invoice already

    invoice = Invoice.objects.get(driver=joost, period=OCTOBER)
    (line,) = invoice.lines.all()
    assert (line.kind, line.amount_excl_vat, line.vat_rate, line.fee_id) == ("FEE", Decimal("5.00"), 0, fee.pk)
    assert line.description == "Herinneringskosten voor factuur INV-2026-000007"
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        Decimal("5.00"),
        Decimal("0"),
        Decimal("5.00"),
    )
    fee.refresh_from_db()
    assert fee.invoice == invoice
    assert _uninvoiced(joost) == Decimal("0")
    assert InvoiceLine.objects.filter(fee__isnull=False).count() == 1


@pytest.mark.parametrize(
    ("method", "reason", "fee"),
    [
        ("DIRECT_DEBIT", "AM04", Decimal("2.50")),  # insufficient funds: the bank's fee passed on
        ("DIRECT_DEBIT", "MD06", None),  # a refund the driver asked for: their right, no fee
        ("BANK_TRANSFER", "AC04", None),  # not a debit of ours: no bank fee
    ],
)
def test_a_returned_debit_passes_the_banks_fee_on(method: str, reason: str, fee: Decimal | None) -> None:
    ann = a_driver()
    invoice = an_invoice(ann, "60.50", number="INV-2026-000009")
    payment = payment_record(invoice=invoice, amount=Decimal("60.50"), received_on=date(2026, 10, 20), method=method)

    payment_return(payment=payment, reason=reason, returned_on=date(2026, 10, 23))

    owed = Fee.objects.filter(driver=ann).first()
    assert (owed.amount if owed else None) == fee
    assert _uninvoiced(ann) == (fee or Decimal("0"))
    if owed:
        assert (owed.kind, owed.payment, owed.for_invoice, owed.incurred_on) == (
            "RETURNED_DEBIT",
            payment,
            invoice,
            date(2026, 10, 23),
        )
        with time_machine.travel(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), tick=False):
            invoice_run(period=OCTOBER)
        line = InvoiceLine.objects.get(fee=owed)
        assert line.description == "Returned direct debit of invoice INV-2026-000009 (AM04): the bank's fee"
        assert (line.amount_excl_vat, line.vat_rate) == (Decimal("2.50"), 0)


def test_no_fee_when_the_bank_fee_is_not_passed_on(settings: Settings) -> None:
    settings.BILLING_RETURN_FEE = "0"
    ann = a_driver()
    payment_return(payment=_debit(an_invoice(ann, "10.00")), reason="AM04")
    assert not Fee.objects.exists()
