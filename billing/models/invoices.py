"""Invoices and credit notes to drivers, their lines, their gap-free numbers and the runs that issue them.

An issued invoice never changes (EU VAT Directive art. 226, `../shared/billing-facts.md`): its customer
details are copied in at issue, its amounts are final, and a correction is a credit note that refers to it.
Only its collection state (`status`, `paid_amount`, reminders, `document`) moves afterwards.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q


def _amount(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, default=Decimal("0"))


class InvoiceSequence(models.Model):
    """The last number issued in a series and year. Issuing takes this row's lock and increments it in the
    transaction that writes the invoice: a rollback gives the number back, so numbers have no gaps."""

    series = models.CharField(max_length=8)
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("series", "year"), name="unique_invoice_sequence")]

    def __str__(self) -> str:
        return f"{self.series} {self.year}: {self.last_number}"


class InvoiceRun(models.Model):
    """One run of the monthly invoicing for a period, with its progress (admin, `invoice_run`, beat)."""

    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        DONE = "DONE"
        FAILED = "FAILED"

    period = models.DateField(help_text="The first day of the month invoiced.")
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    drivers_total = models.PositiveIntegerField(default=0)
    drivers_done = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        permissions = [("run_invoicing", "Can start invoice runs")]
        indexes = [models.Index(fields=("period", "started_at"), name="invoice_run_period")]

    def __str__(self) -> str:
        return f"Invoice run {self.period:%Y-%m} ({self.status})"


class Invoice(models.Model):
    """An invoice or a credit note to one driver. Amounts in the driver's currency, rounded to its minor
    unit: each line is rounded, the totals are sums of lines, VAT per rate on the sum of that rate's lines."""

    class Kind(models.TextChoices):
        INVOICE = "INVOICE", "invoice"
        CREDIT_NOTE = "CREDIT_NOTE", "credit note"

    class Status(models.TextChoices):
        OPEN = "OPEN", "open (to be paid)"
        PAID = "PAID", "paid"
        CREDITED = "CREDITED", "cancelled by a credit note"

    kind = models.CharField(max_length=11, choices=Kind.choices, default=Kind.INVOICE)
    number = models.CharField(max_length=20, unique=True, help_text="Sequential per series and year, no gaps.")
    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="invoices")
    period = models.DateField(null=True, blank=True, help_text="The month invoiced (its first day).")
    issued_at = models.DateTimeField()
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3)
    language = models.CharField(max_length=2, default="en")
    customer_name = models.CharField(max_length=255)
    customer_address = models.TextField(blank=True, help_text="As it was at issue.")
    customer_country = models.CharField(max_length=2, blank=True)
    customer_vat_number = models.CharField(max_length=20, blank=True, help_text="Business customers only.")
    total_excl_vat = _amount("total excl. VAT")
    total_vat = _amount("VAT")
    total_incl_vat = _amount("total incl. VAT")
    vat_summary = models.JSONField(default=list, help_text="[{rate, taxable, vat}] per VAT rate, as strings.")
    credited_invoice = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credit_notes",
        help_text="The invoice this credit note corrects.",
    )
    run = models.ForeignKey(InvoiceRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    paid_amount = _amount("paid")
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    document = models.FileField(upload_to="invoices/%Y/", blank=True, help_text="The PDF, rendered at issue.")

    class Meta:
        permissions = [("issue_credit_note", "Can issue credit notes")]
        constraints = [
            # One invoice per driver and month, however many runs start (a late CDR goes on the next one).
            models.UniqueConstraint(
                fields=("driver", "period"), condition=Q(kind="INVOICE"), name="one_invoice_per_driver_period"
            ),
        ]
        indexes = [
            models.Index(fields=("driver", "-issued_at"), name="invoice_driver_recent"),
            models.Index(fields=("period",), name="invoice_period"),
            # The back office's list, newest first (the key breaks ties: a run issues many at once).
            models.Index(fields=("issued_at", "id"), name="invoice_issued"),
            # Dunning and the credit check: only what is still open.
            models.Index(fields=("due_date",), name="invoice_open_due", condition=Q(status="OPEN")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display().capitalize()} {self.number}"

    @property
    def balance(self) -> Decimal:
        """What is still to be paid on it."""
        return self.total_incl_vat - self.paid_amount


class InvoiceLine(models.Model):
    """One line: a session, a subscription fee, a credit for a CPO's credit CDR, or a fee (e.g. returned debit)."""

    class Kind(models.TextChoices):
        SESSION = "SESSION", "charging session"
        SUBSCRIPTION = "SUBSCRIPTION", "subscription fee"
        CREDIT = "CREDIT", "credit"
        FEE = "FEE", "fee"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    description = models.CharField(max_length=255)
    supplied_on = models.DateField(null=True, blank=True, help_text="Date of supply (the session's start).")
    location = models.CharField(max_length=255, blank=True)
    energy_kwh = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    duration_hours = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=6, default=Decimal("1"))
    unit_price_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    amount_excl_vat = models.DecimalField(max_digits=12, decimal_places=2, help_text="Rounded per line.")
    vat_rate = models.DecimalField("VAT rate (%)", max_digits=5, decimal_places=2)
    charge = models.OneToOneField(
        "billing.SessionCharge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_line",
        help_text="Unique: a session is never invoiced twice.",
    )
    subscription = models.ForeignKey(
        "billing.PlanSubscription", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fee = models.OneToOneField(
        "billing.Fee",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_line",
        help_text="Unique: a fee is never invoiced twice.",
    )

    class Meta:
        ordering = ("invoice", "position")
        constraints = [models.UniqueConstraint(fields=("invoice", "position"), name="unique_invoice_line_position")]

    def __str__(self) -> str:
        return self.description
