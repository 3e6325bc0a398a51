"""Invoice reconciliation records (OCPI 2.3.0 `invoicereconciliation`): which CDRs one invoice covers.

With direct billing the CPO invoices us and, next to the invoice document (mail, e-mail, a portal), sends
a record naming the CDRs that invoice charges for. Which CDRs an invoice covers is set by that list, never
by dates: a CDR that arrived before the invoice run may still be left for the next invoice. Finance compares
the list with the CDRs we received and with the prices we accepted (billing.invoice_reconciliation).

A record the CPO DELETEs was itself a mistake (the spec's meaning of DELETE): it is kept, flagged
`deleted_at`, and counts for nothing; its lines go. Keeping it keeps its `last_updated`, so a delayed older
PUT of it cannot bring it back, and finance can still see what was withdrawn.
"""

from __future__ import annotations

from django.db import models


class InvoiceReconciliationRecord(models.Model):
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="invoice_records")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=36)
    invoice_id = models.CharField(max_length=255, help_text="The CPO's invoice this record is about.")
    cdr_ids = models.JSONField(default=list, help_text="The CDR ids the invoice covers, as sent.")
    extra = models.JSONField(default=dict, blank=True, help_text="Fields the CPO sent that OCPI does not define.")
    last_updated = models.DateTimeField(help_text="The CPO's last_updated.")
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Withdrawn by the CPO: counts for nothing.")
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "invoice reconciliation record"
        constraints = [
            models.UniqueConstraint(fields=("country_code", "party_id", "ocpi_id"), name="unique_invoice_record")
        ]
        indexes = [models.Index(fields=("partner", "invoice_id"), name="invoice_record_partner")]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} (invoice {self.invoice_id})"


class InvoiceReconciliationCdr(models.Model):
    """One CDR id a live record names, keyed for matching: CDR ids are CiStrings, so `cdr_key` is the id in
    upper case under the record's party. Lets finance ask per CDR "is it on any invoice?" through an index
    rather than by reading every record's list."""

    record = models.ForeignKey(InvoiceReconciliationRecord, on_delete=models.CASCADE, related_name="lines")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    cdr_key = models.CharField(max_length=36)

    class Meta:
        verbose_name = "invoiced CDR id"
        indexes = [models.Index(fields=("country_code", "party_id", "cdr_key"), name="invoice_line_cdr")]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.cdr_key}"


class IssuedInvoiceRecord(models.Model):
    """Our own record, as the Sender (reverse billing): we invoiced a CPO for credits and name the CDRs the
    invoice covers. Written by billing (the invoice), pushed to the CPO's Receiver from the outbox and listed on
    our Sender interface. `pushed_version` is the `last_updated` the CPO acknowledged: a record whose version
    differs is due (new, changed, or a push that failed)."""

    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="issued_invoice_records")
    country_code = models.CharField(max_length=2, help_text="Ours (OCPI_COUNTRY_CODE) when the record was made.")
    party_id = models.CharField(max_length=3, help_text="Ours (OCPI_PARTY_ID) when the record was made.")
    ocpi_id = models.CharField("id", max_length=36, unique=True)
    invoice_id = models.CharField(max_length=255, help_text="Our invoice to the CPO.")
    cdr_ids = models.JSONField(default=list, help_text="The CPO's CDR ids the invoice covers.")
    last_updated = models.DateTimeField()
    pushed_version = models.DateTimeField(
        null=True, blank=True, help_text="The last_updated the CPO's Receiver took; empty: never pushed."
    )
    push_failures = models.PositiveIntegerField(default=0, help_text="Failed pushes in a row.")
    push_error = models.TextField(blank=True)
    next_push_at = models.DateTimeField(null=True, blank=True, help_text="Backoff after a failed push.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "issued invoice reconciliation record"
        indexes = [models.Index(fields=("partner", "last_updated"), name="issued_record_partner")]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} (our invoice {self.invoice_id})"
