"""Reverse billing: where staff accepted our price below the CPO's, we invoice the CPO for the difference and
name the CDRs to it in an OCPI 2.3.0 invoice reconciliation record (we are the Sender)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from billing.cpo_credits import cpo_credit_invoices_issue
from billing.models import CpoCreditInvoice, Dispute
from billing.services import dispute_decide
from emsp.models import OutboxTask
from roaming.models import IssuedInvoiceRecord, Partner
from tests.billing.conftest import cdr_body, post_cdr
from tests.roaming.conftest import OcpiTestClient


@pytest.fixture
def disputed(ocpi: OcpiTestClient, staff: User, held_tariff: dict[str, Any]) -> None:
    """CDR-1 at our price (4.50); the CPO charged 5.50 for CDR-2 and 5.20 for CDR-3; CDR-4 at 5.10 too, but staff
    accepted the CPO's price there; CDR-3's dispute is still open."""
    post_cdr(ocpi, cdr_body("CDR-1"))
    for cdr_id, total in (("CDR-2", ("5.50", "6.05")), ("CDR-3", ("5.20", "5.72")), ("CDR-4", ("5.10", "5.61"))):
        post_cdr(ocpi, cdr_body(cdr_id, total=total))
    dispute_decide(dispute=Dispute.objects.get(cdr__ocpi_id="CDR-2"), outcome=Dispute.Status.OURS_ACCEPTED, user=staff)
    dispute_decide(dispute=Dispute.objects.get(cdr__ocpi_id="CDR-4"), outcome=Dispute.Status.CPO_ACCEPTED, user=staff)


@pytest.mark.usefixtures("disputed")
def test_a_credit_invoice_names_each_cdr_where_our_price_was_accepted_once(
    cpo: tuple[Partner, str], staff: User, ocpi: OcpiTestClient
) -> None:
    partner = cpo[0]
    [invoice] = cpo_credit_invoices_issue(partner=partner, by=staff)
    assert (invoice.number[:9], invoice.currency, invoice.total_excl_vat) == ("CRC-2026-", "EUR", Decimal("1.00"))
    assert [(line.cdr.ocpi_id, line.credit_excl_vat) for line in invoice.lines.all()] == [("CDR-2", Decimal("1.0"))]
    record = IssuedInvoiceRecord.objects.get()
    assert (record.partner, record.ocpi_id, record.invoice_id, record.cdr_ids) == (
        partner,
        invoice.number,
        invoice.number,
        ["CDR-2"],
    )
    assert OutboxTask.objects.filter(task="roaming.push_invoice_record", args=[record.pk]).exists()
    assert [r["id"] for r in ocpi.get("/ocpi/2.3.0/invoicereconciliation").data] == [invoice.number]

    assert cpo_credit_invoices_issue(partner=partner) == []  # credited once

    # CDR-3's dispute is decided for us later: the next invoice credits it alone, numbered on.
    dispute_decide(dispute=Dispute.objects.get(cdr__ocpi_id="CDR-3"), outcome=Dispute.Status.OURS_ACCEPTED, user=staff)
    [second] = cpo_credit_invoices_issue(partner=partner)
    assert int(second.number[-6:]) == int(invoice.number[-6:]) + 1
    assert (second.total_excl_vat, second.record.cdr_ids) == (Decimal("0.70"), ["CDR-3"])


@pytest.mark.usefixtures("disputed")
def test_finance_issues_and_reads_credit_invoices_in_the_admin(
    client: Client, staff: User, cpo: tuple[Partner, str], settings: Any
) -> None:
    client.force_login(staff)
    listing = client.get(reverse("admin:billing_cpocreditinvoice_changelist"))
    assert reverse("admin:billing_cpocreditinvoice_issue") in listing.content.decode()
    issued = client.post(reverse("admin:billing_cpocreditinvoice_issue"), {"partner": cpo[0].pk}, follow=True)
    assert issued.status_code == 200
    invoice = CpoCreditInvoice.objects.get()
    assert invoice.issued_by == staff
    assert f"Issued {invoice}" in issued.content.decode()
    page = client.get(reverse("admin:billing_cpocreditinvoice_change", args=[invoice.pk])).content.decode()
    assert "CDR-2" in page
    assert "waiting to be pushed" in page  # no Receiver endpoint at this CPO: the push waits
