"""What drivers pay: retail plans, which plan a driver is on when, and the charge for each session.

The CPO's price of a CDR (`CdrPrice`) is our cost; the driver pays the retail price of the plan that was in
force when the session started (`PlanSubscription`), computed once into a `SessionCharge` that the monthly
invoice then lists. Plan amounts are excl. VAT; VAT is that of the driver's country, added per invoice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


def _price(verbose_name: str, help_text: str = "") -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=4, default=Decimal("0"), help_text=help_text)


def _volume(verbose_name: str) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=14, decimal_places=6, default=Decimal("0"))


class PowerClass(models.TextChoices):
    """How drivers (and AFIR) tell chargers apart by price."""

    AC = "AC", "AC"
    DC = "DC", "DC up to 150 kW"
    HPC = "HPC", "DC above 150 kW"


class RetailPlan(models.Model):
    """A price plan drivers can be on, defined by staff: e.g. pay-as-you-go, or a monthly subscription with
    lower prices. All amounts excl. VAT, in `currency`."""

    class Basis(models.TextChoices):
        COST_PLUS = "cost_plus", "the CPO's price plus a markup"
        OWN_PRICES = "own_prices", "our own price rules (per partner, country, power class)"

    name = models.CharField(max_length=64, unique=True)
    currency = models.CharField(max_length=3, default="EUR")
    basis = models.CharField(max_length=10, choices=Basis.choices, default=Basis.COST_PLUS)
    markup_percent = models.DecimalField(
        max_digits=7, decimal_places=4, default=Decimal("0"), help_text="On the CPO's price excl. VAT (cost plus)."
    )
    markup_per_kwh = _price("markup per kWh", "Added per kWh on top of the CPO's price (cost plus).")
    session_fee = _price("session fee", "Per session.")
    idle_fee_per_minute = _price("idle fee per minute", "Per minute of parking (not charging) beyond the grace.")
    idle_grace_minutes = models.PositiveIntegerField(default=0)
    monthly_fee = _price("monthly fee", "Subscription fee per month, prorated by days on the plan.")
    available = models.BooleanField(default=True, help_text="Offered to drivers who choose a plan.")
    is_default = models.BooleanField(
        default=False, help_text="The plan of drivers who never chose one (e.g. pay-as-you-go). At most one."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("is_default",), condition=Q(is_default=True), name="one_default_plan")
        ]

    def __str__(self) -> str:
        return self.name


class PlanPriceRule(models.Model):
    """Our own price on an OWN_PRICES plan. The most specific rule that matches a session wins: a partner
    weighs more than a country, a country more than a power class; empty matches anything."""

    plan = models.ForeignKey(RetailPlan, on_delete=models.CASCADE, related_name="price_rules")
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    country = models.CharField(max_length=3, blank=True, help_text="The location's country (ISO 3166 alpha-3).")
    power_class = models.CharField(max_length=3, choices=PowerClass.choices, blank=True)
    price_per_kwh = _price("price per kWh")
    price_per_hour = _price("price per hour", "Per hour of charging time.")

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("plan", "partner", "country", "power_class"), name="unique_price_rule")
        ]

    def __str__(self) -> str:
        return f"{self.plan}: {self.price_per_kwh}/kWh"


class PlanSubscription(models.Model):
    """A driver on a plan from `valid_from` until `valid_until` (open: still on it). A driver has one plan at a
    time; the spell in force when a session starts prices it, so a plan change never reprices old sessions."""

    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="plan_subscriptions")
    plan = models.ForeignKey(RetailPlan, on_delete=models.PROTECT, related_name="subscriptions")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("driver",), condition=Q(valid_until__isnull=True), name="one_current_plan_per_driver"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="plan_spell_not_empty",
            ),
        ]
        indexes = [models.Index(fields=("driver", "valid_from"), name="plan_subscription_driver")]

    def __str__(self) -> str:
        return f"{self.driver} on {self.plan} from {self.valid_from:%Y-%m-%d}"


class SessionCharge(models.Model):
    """What the driver pays for one CDR: the plan in force at session start applied to the session.

    Written once when the CDR is priced (a CPO's credit CDR gives a negative charge referring to the one it
    credits); `invoice` is set in the same transaction that issues the invoice listing it, so a charge is
    invoiced exactly once, on the first invoice run after it arrived (a late CDR goes on the next invoice).
    """

    cdr = models.OneToOneField("roaming.Cdr", on_delete=models.PROTECT, primary_key=True, related_name="charge")
    driver = models.ForeignKey("drivers.Driver", on_delete=models.PROTECT, related_name="session_charges")
    plan = models.ForeignKey(RetailPlan, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    session_start = models.DateTimeField()
    session_end = models.DateTimeField()
    location = models.CharField(max_length=255, blank=True, help_text="Name, address and city, for the invoice.")
    country = models.CharField(max_length=3, blank=True, help_text="The location's country.")
    power_class = models.CharField(max_length=3, choices=PowerClass.choices, blank=True)
    energy_kwh = _volume("energy (kWh)")
    charging_hours = _volume("charging time (h)")
    parking_hours = _volume("parking time (h)")
    amount_excl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="Full precision; rounded once, on the invoice line."
    )
    vat_rate = models.DecimalField(
        "VAT rate (%)", max_digits=5, decimal_places=2, help_text="Of the driver's country on the session's date."
    )
    lines = models.JSONField(
        default=list,
        blank=True,
        help_text="The breakdown: [{kind, description, quantity, unit_price, amount}], amounts excl. VAT as strings.",
    )
    credits = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="credited_by",
        help_text="The charge a CPO's credit CDR cancels.",
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, null=True, blank=True, related_name="charges"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The invoice run's work list and the credit check's "priced, not yet invoiced": small, however
            # many charges have been invoiced.
            models.Index(fields=("driver", "session_end"), name="charge_uninvoiced", condition=Q(invoice__isnull=True)),
            models.Index(fields=("driver", "-session_start"), name="charge_driver_recent"),
            # The back office: revenue per day (start page) and the list by date.
            models.Index(fields=("session_start",), name="charge_session_start"),
        ]

    def __str__(self) -> str:
        return f"CDR #{self.cdr_id}: {self.amount_excl_vat} {self.currency}"
