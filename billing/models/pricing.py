"""Our price of each CDR (what the CPO should charge us) and the disputes where the CPO's price differs from it.

A CDR's `total_cost` is what the CPO invoices us; `CdrPrice` is what it should be by the tariff, computed by
the engine (billing.tariffs). Where they differ beyond the tolerance a `Dispute` is opened, decided by staff
(`dispute_decide`), and every step is kept in `DisputeEvent` so that a re-decision stays traceable.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import JSONField, Q, Value
from simple_history.models import HistoricalRecords


def _money(verbose_name: str, *, null: bool = True) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=4, null=null, blank=null)


_EMPTY_LIST = Value([], JSONField())


def _volume(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=6, null=True, blank=True)


class CdrPrice(models.Model):
    """Our price of one CDR, with the breakdown that explains it. Rewritten when the CDR is re-priced.

    Every CDR gets one as it is stored, PENDING, written by the CDR's own INSERT (`register_cdr_companion` in
    billing/apps.py): hence a database default for every column that is not nullable.
    """

    class Status(models.TextChoices):
        PENDING = "PENDING"  # stored with the CDR, in its transaction: the worker's backlog
        PRICED = "PRICED"
        UNPRICED = "UNPRICED"  # see reason; re-priced when what it waits for arrives
        CREDITED = "CREDITED"  # cancelled by a credit CDR

    class Source(models.TextChoices):
        CDR = "cdr", "tariffs inside the CDR"
        HELD = "held", "our copy of the tariff"

    class Waiting(models.TextChoices):
        """What an UNPRICED CDR waits for (`waiting_id` names it, under the CDR's party)."""

        NOTHING = "", "nothing (needs a person)"
        TARIFF = "tariff"
        LOCATION = "location"
        CDR = "cdr", "the CDR it credits"

    # The CDR is the key: one index less to write with every CDR (this row is written in the CDR's INSERT).
    cdr = models.OneToOneField("roaming.Cdr", on_delete=models.CASCADE, related_name="price", primary_key=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING, db_default=Status.PENDING)
    reason = models.CharField(max_length=255, blank=True, default="", db_default="", help_text="Why it is unpriced.")
    waiting_for = models.CharField(max_length=8, choices=Waiting.choices, blank=True, default="", db_default="")
    waiting_id = models.CharField(max_length=39, blank=True, default="", db_default="")
    currency = models.CharField(max_length=3, blank=True, default="", db_default="")
    tariff = models.ForeignKey(
        "roaming.Tariff",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Our copy, when it priced the CDR; empty when the CDR carried its own tariffs.",
    )
    tariff_ocpi_id = models.CharField("tariff id", max_length=36, blank=True, default="", db_default="")
    tariff_last_updated = models.DateTimeField("tariff version", null=True, blank=True)
    source = models.CharField(max_length=4, choices=Source.choices, blank=True, default="", db_default="")
    total_excl_vat = _money("total excl. VAT")
    total_incl_vat = _money("total incl. VAT")
    energy_excl_vat = _money("energy excl. VAT")
    energy_incl_vat = _money("energy incl. VAT")
    time_excl_vat = _money("time excl. VAT")
    time_incl_vat = _money("time incl. VAT")
    parking_excl_vat = _money("parking excl. VAT")
    parking_incl_vat = _money("parking incl. VAT")
    fixed_excl_vat = _money("fixed excl. VAT")
    fixed_incl_vat = _money("fixed incl. VAT")
    reservation_excl_vat = _money("reservation excl. VAT")
    reservation_incl_vat = _money("reservation incl. VAT")
    energy_kwh = _volume("billed energy (kWh)")
    time_hours = _volume("billed time (h)")
    parking_hours = _volume("billed parking (h)")
    reservation_hours = _volume("billed reservation (h)")
    lines = models.JSONField(
        default=list,
        db_default=_EMPTY_LIST,
        blank=True,
        help_text="The engine's breakdown; amounts as strings.",
    )
    warnings = models.JSONField(default=list, db_default=_EMPTY_LIST, blank=True)
    priced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "CDR price"
        indexes = [
            # The backlog: CDRs stored and not priced yet (small, however many CDRs there are).
            models.Index(fields=("cdr",), name="cdrprice_pending", condition=Q(status="PENDING")),
            # Small: what the re-pricing of arrived tariffs/locations and the backlog look for.
            models.Index(
                fields=("waiting_for", "waiting_id"),
                name="cdrprice_waiting",
                condition=Q(status="UNPRICED"),
            ),
        ]

    def __str__(self) -> str:
        if self.status in (self.Status.UNPRICED, self.Status.PENDING):
            return f"CDR #{self.cdr_id}: {self.get_status_display().lower()}"
        return f"CDR #{self.cdr_id}: {self.total_excl_vat} {self.currency}"


class Dispute(models.Model):
    """The CPO's price of a CDR differs from ours (or its volumes from its periods): money at stake."""

    class Status(models.TextChoices):
        OPEN = "OPEN"
        CPO_ACCEPTED = "CPO_ACCEPTED", "CPO's price accepted"
        OURS_ACCEPTED = "OURS_ACCEPTED", "our price accepted"
        RESOLVED = "RESOLVED"

    cdr = models.ForeignKey("roaming.Cdr", on_delete=models.CASCADE, related_name="disputes")
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="disputes")
    currency = models.CharField(max_length=3)
    amount_at_stake = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="CPO's total minus ours, excl. VAT: what we'd overpay."
    )
    differences = models.JSONField(default=list, help_text="[{dimension, cpo, ours, difference}], as strings.")
    status = models.CharField(max_length=13, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()

    # Who decided what, field by field (the decisions' own log is DisputeEvent). Disputes opened by
    # reconciliation come by bulk_create and get their first history row at their first save.
    history = HistoricalRecords()

    class Meta:
        permissions = [("decide_dispute", "Can decide disputes with CPOs")]
        constraints = [
            models.UniqueConstraint(fields=("cdr",), condition=Q(status="OPEN"), name="one_open_dispute_per_cdr")
        ]
        indexes = [
            models.Index(fields=("partner", "status", "opened_at"), name="dispute_partner_status"),
            models.Index(fields=("opened_at",), name="dispute_opened"),  # the back office's list, newest first
        ]

    def __str__(self) -> str:
        return f"Dispute on CDR #{self.cdr_id}: {self.amount_at_stake} {self.currency} ({self.get_status_display()})"


class DisputeEvent(models.Model):
    """Append-only: every opening, change, decision and automatic closing of a dispute, with who and when."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="events")
    status = models.CharField(max_length=13, choices=Dispute.Status.choices)
    note = models.TextField(blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ("at", "pk")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_status_display()}"
