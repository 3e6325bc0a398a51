"""The driver's balance is derived from invoices, payments and charges, and the credit limit counts both."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from billing.balances import driver_balances_refresh
from billing.models import Invoice, Payment
from drivers.models import Driver
from drivers.selectors import Allowed, token_with_verdict

from .factories import a_cdr, a_charge, a_driver, a_partner, a_plan, an_invoice

pytestmark = pytest.mark.django_db


def _pay(invoice: Invoice, amount: str, status: str = Payment.Status.RECEIVED) -> Payment:
    return Payment.objects.create(
        invoice=invoice,
        amount=Decimal(amount),
        currency="EUR",
        method=Payment.Method.BANK_TRANSFER,
        received_on=timezone.localdate(),
        status=status,
    )


def test_outstanding_is_issued_invoices_minus_payments_that_were_not_returned() -> None:
    driver, other = a_driver(), a_driver("Bob Jansen")
    first, second = an_invoice(driver, "121.00"), an_invoice(driver, "30.25")
    an_invoice(other, "99.00")
    _pay(first, "100.00")
    _pay(second, "30.25", status=Payment.Status.RETURNED)

    assert driver_balances_refresh(driver_ids=[driver.pk, driver.pk]) == 1

    driver.refresh_from_db()
    assert driver.outstanding == Decimal("51.25")  # 121.00 + 30.25 - 100.00
    assert driver.uninvoiced == Decimal("0.00")
    other.refresh_from_db()
    assert other.outstanding == Decimal("0.00")  # not refreshed: another driver


def test_uninvoiced_counts_charges_not_on_an_invoice_with_their_vat() -> None:
    driver, partner, plan = a_driver(), a_partner(), a_plan()
    a_charge(a_cdr(partner, driver), plan, amount="10.00", vat_rate="21")
    a_charge(a_cdr(partner, driver), plan, amount="0.333", vat_rate="19")
    invoiced = an_invoice(driver, "1.00")
    a_charge(a_cdr(partner, driver), plan, amount="50.00", invoice=invoiced)

    driver_balances_refresh(driver_ids=[driver.pk])

    driver.refresh_from_db()
    assert driver.uninvoiced == Decimal("12.50")  # 10.00 x 1.21 + 0.333 x 1.19 = 12.49627, the invoiced one not


def test_credit_limit_counts_unpaid_invoices_plus_priced_sessions_not_yet_invoiced() -> None:
    driver, partner, plan = a_driver(), a_partner(), a_plan()
    an_invoice(driver, "40.00")
    Driver.objects.filter(pk=driver.pk).update(credit_limit=Decimal("50.00"))
    token = driver.tokens.get()
    driver_balances_refresh(driver_ids=[driver.pk])
    assert token_with_verdict(token.uid)[1].allowed == Allowed.ALLOWED  # type: ignore[index]

    a_charge(a_cdr(partner, driver), plan, amount="8.27", vat_rate="21")  # 10.01 incl. VAT
    driver_balances_refresh(driver_ids=[driver.pk])

    assert token_with_verdict(token.uid)[1].allowed == Allowed.NO_CREDIT  # type: ignore[index]
