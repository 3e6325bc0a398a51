"""A CPO's invoice against what we hold: CDRs named but never received, received but on no invoice after the grace
period, named twice, and the invoice's total at the CPO's price and at the price we accepted."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from billing.invoice_reconciliation import cdrs_unnamed, invoice_check
from billing.models import Dispute
from billing.services import dispute_decide
from roaming.models import InvoiceReconciliationRecord, Partner
from tests.billing.conftest import cdr_body, post_cdr
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.usefixtures("held_tariff")

URL = "/ocpi/2.3.0/invoicereconciliation"


def send_record(ocpi: OcpiTestClient, record_id: str, invoice_id: str, cdrs: list[str], **changes: Any) -> None:
    body = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": record_id,
        "invoice_id": invoice_id,
        "cdrs": cdrs,
        "last_updated": "2026-12-01T10:00:00Z",
    } | changes
    reply = ocpi.put(f"{URL}/BE/BEC/{record_id}", body)
    assert reply.status_code == 1000, reply.body


@pytest.fixture
def invoiced(ocpi: OcpiTestClient) -> None:
    """Four CDRs at 4.50 / 4.95 by our tariff; the CPO charged CDR-3 5.50 / 6.05 (a dispute opens); cdr-4 has a
    lower-case id. INV-1 names CDR-2 twice, a CDR we never received, and the others in another case; INV-2 names
    CDR-1 again."""
    for cdr_id in ("CDR-1", "CDR-2", "cdr-4"):
        post_cdr(ocpi, cdr_body(cdr_id))
    post_cdr(ocpi, cdr_body("CDR-3", total=("5.50", "6.05")))
    send_record(ocpi, "IR-1", "INV-1", ["cdr-1", "CDR-2", "CDR-2", "CDR-3", "CDR-4", "CDR-9"])
    send_record(ocpi, "IR-2", "INV-2", ["CDR-1"], last_updated="2026-12-02T10:00:00Z")


@pytest.mark.usefixtures("invoiced")
def test_an_invoice_names_cdrs_we_never_received_and_cdrs_named_twice(cpo: tuple[Partner, str]) -> None:
    check = invoice_check(partner=cpo[0], invoice_id="inv-1")  # invoice ids are CiStrings too

    assert check.invoice_id == "INV-1"
    assert [r.ocpi_id for r in check.records] == ["IR-1"]
    assert check.named == 5
    assert check.missing == ["CDR-9"]
    assert check.double == {"cdr-1": ["INV-1", "INV-2"], "CDR-2": ["INV-1", "INV-1"]}
    # Matched whatever the case: CDR-1 named as cdr-1, cdr-4 (stored in lower case) named as CDR-4.
    assert sorted(line.cdr.ocpi_id for line in check.cdrs) == ["CDR-1", "CDR-2", "CDR-3", "cdr-4"]


@pytest.mark.usefixtures("invoiced")
def test_the_invoice_total_at_the_cpos_price_and_at_the_accepted_price(cpo: tuple[Partner, str], staff: User) -> None:
    def totals() -> tuple[Any, ...]:
        (total,) = invoice_check(partner=cpo[0], invoice_id="INV-1").totals
        return (
            total.currency,
            total.cdrs,
            total.cpo_excl_vat,
            total.cpo_incl_vat,
            total.accepted_excl_vat,
            total.accepted_incl_vat,
            total.open_disputes,
        )

    cpo_price = (Decimal("19.00"), Decimal("20.90"))  # 3 x 4.50 + 5.50, 3 x 4.95 + 6.05; CDR-2 counted once
    # The dispute on CDR-3 is open: the CPO's price stands, flagged.
    assert totals() == ("EUR", 4, *cpo_price, *cpo_price, 1)

    dispute = Dispute.objects.get(cdr__ocpi_id="CDR-3")
    dispute_decide(dispute=dispute, outcome=Dispute.Status.OURS_ACCEPTED, user=staff)
    assert totals() == ("EUR", 4, *cpo_price, Decimal("18.00"), Decimal("19.80"), 0)

    dispute_decide(dispute=dispute, outcome=Dispute.Status.CPO_ACCEPTED, user=staff, note="their tariff changed")
    assert totals() == ("EUR", 4, *cpo_price, *cpo_price, 0)


def test_cdrs_on_no_invoice_show_after_the_grace_period(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], settings: Any
) -> None:
    settings.BILLING_INVOICE_GRACE_DAYS = 45
    partner = cpo[0]
    post_cdr(ocpi, cdr_body("OLD", start="2026-10-01T10:00:00Z", end="2026-10-01T11:00:00Z"))
    for cdr_id in ("CDR-1", "CDR-2", "CDR-3"):
        post_cdr(ocpi, cdr_body(cdr_id))
    assert not cdrs_unnamed(partner=partner, now=timezone.now() + timedelta(days=60)).exists()  # no records yet

    send_record(ocpi, "IR-1", "INV-1", ["CDR-1"])
    send_record(ocpi, "IR-2", "INV-2", ["cdr-3"], last_updated="2026-12-02T10:00:00Z")

    def unnamed(days: int) -> list[str]:
        return [cdr.ocpi_id for cdr in cdrs_unnamed(partner=partner, now=timezone.now() + timedelta(days=days))]

    assert unnamed(44) == []  # still within the grace period
    # OLD ended before the first CDR the CPO's first record names: from before reconciliation, not expected.
    assert unnamed(46) == ["CDR-2"]

    assert ocpi.delete(f"{URL}/BE/BEC/IR-2").status_code == 1000  # a withdrawn record names nothing
    assert unnamed(46) == ["CDR-2", "CDR-3"]


@pytest.mark.usefixtures("invoiced")
def test_finance_sees_the_invoices_and_each_invoice_with_its_problem_cdrs(client: Client, staff: User) -> None:
    client.force_login(staff)
    listing = client.get(reverse("admin:roaming_invoicereconciliationrecord_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "INV-1" in text
    assert "INV-2" in text
    assert "19 EUR" in text  # INV-1 at the CPO's price; INV-2 (CDR-1) at 4.5
    assert "4.5 EUR" in text

    record = InvoiceReconciliationRecord.objects.get(ocpi_id="IR-1")
    page = client.get(reverse("admin:roaming_invoicereconciliationrecord_change", args=[record.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "CDR-9" in text  # never received
    assert "on invoices INV-1, INV-2" in text  # cdr-1, named twice
    cdr_3 = record.partner.cdrs.get(ocpi_id="CDR-3")
    assert reverse("admin:roaming_cdr_change", args=[cdr_3.pk]) in text


@pytest.mark.usefixtures("invoiced")
def test_finance_sees_cdrs_on_no_invoice_and_the_accepted_total_in_the_admin(
    client: Client, staff: User, ocpi: OcpiTestClient, settings: Any
) -> None:
    settings.BILLING_INVOICE_GRACE_DAYS = 0  # every CDR received so far is past its grace period
    post_cdr(ocpi, cdr_body("CDR-5"))  # received, on no invoice
    dispute_decide(dispute=Dispute.objects.get(cdr__ocpi_id="CDR-3"), outcome=Dispute.Status.OURS_ACCEPTED, user=staff)
    client.force_login(staff)

    listing = client.get(reverse("admin:roaming_invoicereconciliationrecord_changelist")).content.decode()
    # INV-1: 19 at the CPO's price, 18 accepted (our 4.50 for CDR-3 instead of its 5.50).
    assert "19 EUR" in listing
    assert "18 EUR" in listing

    record = InvoiceReconciliationRecord.objects.get(ocpi_id="IR-1")
    page = client.get(reverse("admin:roaming_invoicereconciliationrecord_change", args=[record.pk])).content.decode()
    cdr_5 = record.partner.cdrs.get(ocpi_id="CDR-5")
    unnamed = page.split("CPO&#x27;s CDRs on no invoice")[1]
    assert reverse("admin:roaming_cdr_change", args=[cdr_5.pk]) in unnamed
    assert "<td>19</td><td>20.9</td><td>18</td><td>19.8</td><td>0</td>" in page  # CPO's and accepted, excl./incl.
