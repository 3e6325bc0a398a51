"""Our invoices to CPOs (reverse billing): the credit a CPO owes us where staff accepted our price over its own.

A dispute decided `OURS_ACCEPTED` means we pay the CPO our price of that CDR, not its `total_cost`: the CPO owes
us the difference. A credit invoice collects such CDRs of one CPO and currency, each once, and names them to the
CPO in an OCPI 2.3.0 invoice reconciliation record (we are the Sender: `roaming.IssuedInvoiceRecord`).
Amounts excl. VAT, as disputes are; the invoice document itself (addresses, VAT lines) is not produced here.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CpoCreditInvoice(models.Model):
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="credit_invoices")
    number = models.CharField(max_length=36, unique=True, help_text="Gap-free, its own series (CRC-2026-000001).")
    issue_date = models.DateField()
    currency = models.CharField(max_length=3)
    total_excl_vat = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="The credit: CPO's price minus ours, per CDR, summed."
    )
    record = models.OneToOneField(
        "roaming.IssuedInvoiceRecord",
        on_delete=models.PROTECT,
        related_name="credit_invoice",
        help_text="The invoice reconciliation record that names its CDRs to the CPO.",
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "credit invoice to a CPO"
        permissions = [("issue_cpo_credit", "Can issue credit invoices to CPOs")]

    def __str__(self) -> str:
        return f"{self.number}: {self.total_excl_vat} {self.currency}"


class CpoCreditLine(models.Model):
    """One CDR on a credit invoice; a CDR is credited once."""

    invoice = models.ForeignKey(CpoCreditInvoice, on_delete=models.CASCADE, related_name="lines")
    cdr = models.OneToOneField("roaming.Cdr", on_delete=models.PROTECT, related_name="cpo_credit_line")
    cpo_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    ours_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    credit_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)

    class Meta:
        verbose_name = "credited CDR"

    def __str__(self) -> str:
        return f"CDR #{self.cdr_id}: {self.credit_excl_vat}"
