"""Finance exports: a month's invoices with totals per VAT rate, its payments and returns, and what we owe
each CPO for its CDRs at the price accepted in reconciliation."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from billing.collection import payment_record, payment_return
from billing.models import CdrPrice, Dispute, Invoice
from roaming.models import Cdr, Partner

from .factories import a_cdr, a_driver, a_partner, an_invoice

pytestmark = pytest.mark.django_db


def _export(*args: str) -> list[dict[str, str]]:
    out = io.StringIO()
    call_command("finance_export", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_invoices_of_a_month_with_taxable_and_vat_per_rate() -> None:
    ann, bob = a_driver("Ann Smit"), a_driver("Bob Jansen", country="DE")
    nl = an_invoice(ann, "121.00", number="INV-2026-000001", issue_date=date(2026, 10, 3), period=date(2026, 9, 1))
    mixed = an_invoice(
        bob,
        "128.90",
        number="INV-2026-000002",
        issue_date=date(2026, 10, 31),
        total_excl_vat=Decimal("110.00"),
        total_vat=Decimal("18.90"),
        vat_summary=[
            {"rate": "19.00", "taxable": "100.00", "vat": "19.00"},
            {"rate": "9", "taxable": "10.00", "vat": "0.90"},
        ],
    )
    an_invoice(ann, "10.00", number="INV-2026-000003", issue_date=date(2026, 11, 1))  # next month
    payment_record(invoice=nl, amount=Decimal("121.00"), received_on=date(2026, 10, 20))

    rows = _export("invoices", "--period", "2026-10")

    assert list(rows[0]) == [
        *("number", "kind", "issue_date", "due_date", "period", "driver_id", "customer_name", "customer_country"),
        *("customer_vat_number", "currency", "taxable_9", "vat_9", "taxable_19", "vat_19", "taxable_21", "vat_21"),
        *("total_excl_vat", "total_vat", "total_incl_vat", "status", "paid_amount", "credits_invoice"),
    ]
    assert [(r["number"], r["period"], r["status"], r["paid_amount"], r["total_incl_vat"]) for r in rows] == [
        ("INV-2026-000001", "2026-09", "PAID", "121.00", "121.00"),
        ("INV-2026-000002", "", "OPEN", "0.00", "128.90"),
    ]
    assert (rows[0]["taxable_21"], rows[0]["vat_21"], rows[0]["taxable_19"]) == ("100.00", "21.00", "")
    assert (rows[1]["taxable_19"], rows[1]["vat_19"], rows[1]["taxable_9"], rows[1]["vat_9"]) == (
        "100.00",
        "19.00",
        "10.00",
        "0.90",
    )
    assert rows[1]["driver_id"] == str(mixed.driver_id)


def test_payments_of_a_month_include_returns_made_in_it() -> None:
    driver = a_driver()
    invoice = an_invoice(driver, "121.00", number="INV-2026-000010")
    september = payment_record(invoice=invoice, amount=Decimal("21.00"), received_on=date(2026, 9, 30))
    payment_record(invoice=invoice, amount=Decimal("100.00"), received_on=date(2026, 10, 2), reference="TRF-9")
    payment_return(payment=september, reason="MD06", returned_on=date(2026, 10, 5))

    rows = _export("payments", "--period", "2026-10")

    assert [
        (r["received_on"], r["invoice"], r["amount"], r["method"], r["status"], r["return_reason"], r["reference"])
        for r in rows
    ] == [
        ("2026-09-30", "INV-2026-000010", "21.00", "BANK_TRANSFER", "RETURNED", "MD06", ""),
        ("2026-10-02", "INV-2026-000010", "100.00", "BANK_TRANSFER", "RECEIVED", "", "TRF-9"),
    ]
    assert rows[0]["returned_on"] == "2026-10-05"
    assert _export("payments", "--period", "2026-08") == []


def _priced(partner: Partner, cpo: str, ours: str, *, dispute: str | None = None, day: int = 10) -> Cdr:
    cdr = a_cdr(
        partner,
        None,
        start=datetime(2026, 10, day, 9, 0, tzinfo=UTC),
        total_cost=cpo,
        total_cost_incl_vat=(Decimal(cpo) * Decimal("1.21")).quantize(Decimal("0.0001")),
    )
    CdrPrice.objects.update_or_create(  # the CDR receiver writes it with the CDR; the factory does not
        cdr=cdr,
        defaults={
            "status": CdrPrice.Status.PRICED,
            "currency": "EUR",
            "total_excl_vat": Decimal(ours),
            "total_incl_vat": (Decimal(ours) * Decimal("1.21")).quantize(Decimal("0.0001")),
        },
    )
    if dispute is not None:
        Dispute.objects.create(
            cdr=cdr,
            partner=partner,
            currency="EUR",
            amount_at_stake=Decimal(cpo) - Decimal(ours),
            status=dispute,
            opened_at=timezone.now(),
        )
    return cdr


def test_payables_take_the_price_accepted_in_reconciliation_and_total_per_partner() -> None:
    cpo, other = a_partner("CPO One"), a_partner("CPO Two")
    _priced(cpo, "10.0000", "10.0000", day=1)  # no dispute: the CPO's price
    _priced(cpo, "12.0000", "11.0000", dispute=Dispute.Status.CPO_ACCEPTED, day=2)
    _priced(cpo, "15.0000", "13.0000", dispute=Dispute.Status.OURS_ACCEPTED, day=3)
    _priced(cpo, "20.0000", "18.0000", dispute=Dispute.Status.OPEN, day=4)
    november = _priced(cpo, "99.0000", "99.0000")
    Cdr.objects.filter(pk=november.pk).update(start_date_time=datetime(2026, 11, 1, 0, 0, tzinfo=UTC))
    _priced(other, "7.0000", "7.0000")

    rows = _export("payables", "--period", "2026-10", "--partner", str(cpo.pk))

    cdrs = [r for r in rows if r["row"] == "cdr"]
    assert [(r["basis"], r["payable_excl_vat"], r["dispute_status"], r["open_dispute"]) for r in cdrs] == [
        ("cpo", "10.0000", "", ""),
        ("cpo", "12.0000", "CPO_ACCEPTED", ""),
        ("ours", "13.0000", "OURS_ACCEPTED", ""),
        ("cpo", "20.0000", "OPEN", "yes"),
    ]
    assert cdrs[2]["payable_incl_vat"] == "15.7300"
    [total] = [r for r in rows if r["row"] == "total"]
    assert (total["partner"], total["currency"], total["payable_excl_vat"], total["open_dispute"]) == (
        "CPO One",
        "EUR",
        "55.0000",
        "1",
    )
    assert total["payable_incl_vat"] == "66.5500"

    everyone = _export("payables", "--period", "2026-10")
    assert [(r["partner"], r["payable_excl_vat"]) for r in everyone if r["row"] == "total"] == [
        ("CPO One", "55.0000"),
        ("CPO Two", "7.0000"),
    ]


def test_the_command_refuses_bad_arguments() -> None:
    with pytest.raises(CommandError, match="not a month"):
        _export("invoices", "--period", "2026-13")
    with pytest.raises(CommandError, match="only narrows payables"):
        _export("invoices", "--period", "2026-10", "--partner", "1")
    with pytest.raises(CommandError, match="no partner"):
        _export("payables", "--period", "2026-10", "--partner", "999")


def test_the_admin_streams_an_export(client: Client, staff: User) -> None:
    an_invoice(a_driver(), "121.00", number="INV-2026-000007", issue_date=date(2026, 10, 3))
    client.force_login(staff)

    response = client.get("/admin/billing/payment/export/", {"kind": "invoices", "period": "2026-10"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="invoices-2026-10.csv"'
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    assert [r["number"] for r in csv.DictReader(io.StringIO(text))] == ["INV-2026-000007"]
    assert Invoice.objects.count() == 1
