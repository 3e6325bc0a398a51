"""Drivers and their charge tokens (RFID cards and app tokens).

`drivers` depends on no other app. Other apps learn about token changes from `TokenChange`, an
append-only log written in the same transaction as the change: `roaming` pushes each change to every
connected CPO by reading this log in order from its own per-partner cursor.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from simple_history.models import HistoricalRecords


class Driver(models.Model):
    """A customer who charges with our app or card."""

    class Standing(models.TextChoices):
        GOOD = "good", "In good standing"
        SUSPENDED = "suspended", "Suspended (e.g. unpaid invoices)"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="driver")
    standing = models.CharField(max_length=10, choices=Standing.choices, default=Standing.GOOD)
    language = models.CharField(max_length=2, default="en")
    currency = models.CharField(max_length=3, default="EUR")
    credit_limit = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, help_text="Empty: no limit."
    )
    # Invoices need the customer's address; VAT is that of the driver's country.
    street = models.CharField(max_length=255, blank=True)
    postal_code = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=64, blank=True)
    country = models.CharField(max_length=2, default="NL", help_text="ISO 3166 alpha-2; decides the VAT rate.")
    vat_number = models.CharField(max_length=20, blank=True, help_text="Business customers only.")
    # The balance, derived by billing (`billing.balances`) from invoices, payments and charges, never typed in:
    # columns so that real-time authorization checks the credit limit without adding up invoices.
    outstanding = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), help_text="Issued invoices minus payments."
    )
    uninvoiced = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), help_text="Priced sessions not invoiced yet, incl. VAT."
    )
    # A driver who signed up in the app cannot sign in until they confirm their address (`drivers.accounts`).
    # A column of its own, not an inactive user: "inactive" means closed by staff or erased, and confirming an
    # address must never reopen such an account.
    email_verified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the driver confirmed their email address; empty: not yet."
    )
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="When the account was closed and its personal data removed."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Who changed what, for the back office. The balance is derived (refreshed in bulk by billing with
    # UPDATE, which records nothing anyway), so it stays out of the history.
    history = HistoricalRecords(excluded_fields=["outstanding", "uninvoiced"])

    class Meta:
        permissions = [("erase_driver", "Can close a driver's account and erase their personal data")]

    def __str__(self) -> str:
        if self.erased_at:
            return f"Erased driver #{self.pk}"
        return self.user.get_full_name() or self.user.get_username()


class Token(models.Model):
    """A charge token as OCPI knows it: an RFID card or an app token, identified by (uid, type)."""

    class Type(models.TextChoices):
        AD_HOC_USER = "AD_HOC_USER"
        APP_USER = "APP_USER"
        OTHER = "OTHER"
        RFID = "RFID"

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued (not yet activated)"
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"
        EXPIRED = "expired", "Expired"
        LOST = "lost", "Lost or stolen"

    class Whitelist(models.TextChoices):
        ALWAYS = "ALWAYS"
        ALLOWED = "ALLOWED"
        ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
        NEVER = "NEVER"

    class ProfileType(models.TextChoices):
        CHEAP = "CHEAP"
        FAST = "FAST"
        GREEN = "GREEN"
        REGULAR = "REGULAR"

    driver = models.ForeignKey(Driver, on_delete=models.PROTECT, related_name="tokens")
    uid = models.CharField(max_length=36, help_text="RFID chip id, or the id our app generated.")
    type = models.CharField(max_length=12, choices=Type.choices, default=Type.RFID)
    contract_id = models.CharField(max_length=36, unique=True, help_text="eMAID, e.g. NL-EMS-C12345678-X.")
    visual_number = models.CharField(max_length=64, blank=True, help_text="Printed on the card.")
    issuer = models.CharField(max_length=64)
    group_id = models.CharField(max_length=36, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ISSUED, db_index=True)
    whitelist = models.CharField(max_length=16, choices=Whitelist.choices, default=Whitelist.ALLOWED)
    language = models.CharField(max_length=2, blank=True)
    default_profile_type = models.CharField(max_length=8, choices=ProfileType.choices, blank=True)
    energy_contract_supplier = models.CharField(max_length=64, blank=True)
    energy_contract_id = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_updated = models.DateTimeField(help_text="Changes whenever anything a CPO sees changes.")

    # Cards change rarely (issue, block, unblock): one history row each, none on authorization or push.
    history = HistoricalRecords()

    class Meta:
        permissions = [("block_token", "Can activate, block, unblock and report lost cards")]
        # OCPI uids are case-insensitive (CiString): one card is one token in whatever case a CPO writes it.
        # Look-ups compare UPPER(uid) (`drivers.selectors.uid_key`), which this index serves.
        constraints = [
            models.UniqueConstraint(
                Upper("uid"),
                "type",
                name="unique_token_uid_upper_type",
                violation_error_message="A token of this type has this uid already (uids ignore case).",
            )
        ]
        indexes = [models.Index(fields=("last_updated",), name="token_last_updated")]

    def __str__(self) -> str:
        return f"{self.contract_id} ({self.get_type_display()} {self.visual_number or self.uid})"

    @property
    def valid(self) -> bool:
        """OCPI `valid`: may this token charge at all (before per-session checks)? Not while its driver is
        suspended: a CPO that whitelists the token would otherwise let it charge without asking us."""
        return self.status == self.Status.ACTIVE and self.driver.standing == Driver.Standing.GOOD


class ChargeReason(models.TextChoices):
    """Why a token may or may not charge, in words for staff: kept with every authorization. The rule that
    decides is `drivers.selectors.CHARGE_REFUSALS`, each refusal naming its reason."""

    ALLOWED = "allowed", "Allowed"
    UNKNOWN_TOKEN = "unknown_token", "Unknown token"
    BLOCKED = "blocked", "Card blocked, lost or stolen"
    EXPIRED = "expired", "Card expired"
    NOT_ACTIVATED = "not_activated", "Card not activated yet"
    DRIVER_SUSPENDED = "driver_suspended", "Driver suspended"
    CREDIT_LIMIT = "credit_limit", "Credit limit reached"
    # No rule gives this one today: we do not restrict tokens per location (OCPI allows it, e.g. a
    # company card valid only at the company's chargers).
    NOT_ALLOWED_HERE = "location", "Not allowed at this location"


class TokenChange(models.Model):
    """Append-only: one row per change of a token that CPOs must learn about, in commit order-ish.

    Readers take rows older than a few seconds, so a row whose transaction commits late is not skipped.
    """

    token = models.ForeignKey(Token, on_delete=models.CASCADE, related_name="changes")
    reason = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"#{self.pk} {self.token_id} {self.reason}"
