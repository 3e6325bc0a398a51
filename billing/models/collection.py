"""Collecting what drivers owe: SEPA direct-debit mandates, collection batches (pain.008 files for the
bank), payments per invoice, and the reminders of dunning (`../shared/billing-facts.md`)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


class Mandate(models.Model):
    """A driver's SEPA Core direct-debit mandate. Kept after revocation (14 months after the last collection)."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        REVOKED = "REVOKED"

    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="mandates")
    reference = models.CharField(max_length=35, unique=True, help_text="Unique mandate reference (max. 35).")
    debtor_name = models.CharField(max_length=70)
    iban = models.CharField("IBAN", max_length=34)
    bic = models.CharField("BIC", max_length=11, blank=True)
    signed_on = models.DateField()
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.ACTIVE)
    revoked_on = models.DateField(null=True, blank=True)
    last_collected_on = models.DateField(
        null=True, blank=True, help_text="Empty: the next collection is the first (FRST), else recurrent (RCUR)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("driver",), condition=Q(status="ACTIVE"), name="one_active_mandate")
        ]

    def __str__(self) -> str:
        return self.reference


class CollectionBatch(models.Model):
    """The direct debits due on one date: one pain.008 file for finance to upload to the bank."""

    due_date = models.DateField()
    message_id = models.CharField(max_length=35, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, default="EUR")
    count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    xml = models.TextField(help_text="The pain.008 file as exported.")

    class Meta:
        verbose_name_plural = "collection batches"

    def __str__(self) -> str:
        return f"Collection {self.due_date} ({self.count} debits, {self.total} {self.currency})"


class Payment(models.Model):
    """Money received against one invoice: a direct debit of a batch, or a bank transfer recorded by hand.
    A returned debit stays, marked RETURNED with the bank's reason, and no longer counts as paid."""

    class Method(models.TextChoices):
        DIRECT_DEBIT = "DIRECT_DEBIT", "SEPA direct debit"
        BANK_TRANSFER = "BANK_TRANSFER", "bank transfer"
        OTHER = "OTHER", "other"

    class Status(models.TextChoices):
        RECEIVED = "RECEIVED"
        RETURNED = "RETURNED"

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=13, choices=Method.choices)
    received_on = models.DateField()
    reference = models.CharField(max_length=64, blank=True, help_text="Bank reference or end-to-end id.")
    batch = models.ForeignKey(CollectionBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="payments")
    mandate = models.ForeignKey(Mandate, on_delete=models.PROTECT, null=True, blank=True, related_name="payments")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RECEIVED)
    return_reason = models.CharField(max_length=4, blank=True, help_text="e.g. AC04, AM04, MD06.")
    returned_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("export_finance", "Can download finance exports (CSV)")]
        indexes = [models.Index(fields=("received_on",), name="payment_received")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on {self.invoice} ({self.status})"


class Reminder(models.Model):
    """A dunning reminder sent for an overdue invoice; the level after the last one suspends the driver."""

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="reminders")
    level = models.PositiveSmallIntegerField()
    sent_at = models.DateTimeField()
    email = models.EmailField(blank=True)
    fee = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=("invoice", "level"), name="one_reminder_per_level")]

    def __str__(self) -> str:
        return f"Reminder {self.level} for {self.invoice}"


class Fee(models.Model):
    """What a driver owes for how an invoice was paid, not for charging: a reminder's fee, or the bank's fee for
    a returned direct debit passed on. Invoiced once, on the driver's next invoice (its line links back)."""

    class Kind(models.TextChoices):
        REMINDER = "REMINDER", "reminder fee"
        RETURNED_DEBIT = "RETURNED_DEBIT", "returned direct debit"

    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="fees")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2, help_text="No VAT: compensation, not a supply.")
    currency = models.CharField(max_length=3)
    incurred_on = models.DateField()
    for_invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The invoice whose payment it is about.",
    )
    reminder = models.OneToOneField(Reminder, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_owed")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_owed")
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fees",
        help_text="The invoice it is billed on; empty until the next run.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=("driver",), condition=models.Q(invoice__isnull=True), name="fee_uninvoiced")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.for_invoice})"
