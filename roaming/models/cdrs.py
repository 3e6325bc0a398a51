"""Charge detail records: what a CPO bills us for a session (OCPI CDRs module).

A CDR is evidence in billing disputes, so it is stored once, exactly as received (`raw`), and never
changed: the CPO corrects one by sending a credit CDR (`credit`, `credit_reference_id`) and, if need
be, a new CDR with a new id. The columns are for queries and billing; `save()` refuses to update a
stored CDR, and the links that may be resolved later (session, original of a credit, location, tariffs) are set with
`QuerySet.update()` by the services.

A CDR for a token we don't know is kept and flagged (`unknown_token`), never dropped: the CPO will
bill us for it anyway.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


def cdr_url(pk: int) -> str:
    """Where the CPO can read a stored CDR back: the `Location` header of our answer to its POST."""
    return f"{settings.OCPI_BASE_URL}/2.2.1/cdrs/{pk}"


class ImmutableCdr(Exception):
    """A stored CDR was about to be changed."""


class Cdr(models.Model):
    # Indexed by cdr_partner_updated (partner first); a CDR insert is on the hot path, so no extra index.
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="cdrs", db_index=False)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=39)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    ocpi_session_id = models.CharField("session id", max_length=36, blank=True, help_text="As sent by the CPO.")
    session = models.ForeignKey(
        "roaming.ChargingSession", on_delete=models.SET_NULL, null=True, blank=True, related_name="cdrs"
    )
    token_uid = models.CharField(max_length=36)
    token_type = models.CharField(max_length=32)
    contract_id = models.CharField(max_length=36)
    token = models.ForeignKey("drivers.Token", on_delete=models.SET_NULL, null=True, blank=True, related_name="cdrs")
    driver = models.ForeignKey(  # indexed by cdr_driver_recent (driver first)
        "drivers.Driver", on_delete=models.SET_NULL, null=True, blank=True, related_name="cdrs", db_index=False
    )
    unknown_token = models.BooleanField(default=False, help_text="The CDR's token is not one of ours.")
    auth_method = models.CharField(max_length=32)
    authorization_reference = models.CharField(max_length=36, blank=True)
    location = models.ForeignKey(  # not indexed: CDRs are not looked up by location; locations stay
        "roaming.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="cdrs", db_index=False
    )
    cdr_location = models.JSONField(default=dict, help_text="The location as it was at session start.")
    currency = models.CharField(max_length=3)
    total_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4)
    total_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_cost_taxes = models.JSONField(
        null=True,
        blank=True,
        help_text="OCPI 2.3.0: the taxes of total_cost as sent (name, amount, percentage, account_number); "
        "total_cost_incl_vat is excl. plus their sum.",
    )
    total_energy = models.DecimalField(max_digits=12, decimal_places=4, help_text="kWh.")
    total_time = models.DecimalField(max_digits=12, decimal_places=4, help_text="Hours, charging and not.")
    total_parking_time = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True, help_text="Hours.")
    total_fixed_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_fixed_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_energy_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_energy_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_time_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_time_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_parking_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_parking_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_reservation_cost_excl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    total_reservation_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    tariffs = models.JSONField(default=list, blank=True, help_text="The tariffs as sent: billing prices from them.")
    linked_tariffs = models.ManyToManyField(
        "roaming.Tariff",
        blank=True,
        related_name="cdrs",
        help_text="Our copies of the tariffs this CDR names (in `tariffs` or a charging period's tariff_id).",
    )
    charging_periods = models.JSONField(default=list)
    credit = models.BooleanField(default=False)
    credit_reference_id = models.CharField(max_length=39, blank=True)
    credit_for = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credits",
        db_index=False,  # see cdr_credits: only credit CDRs have one
        help_text="The CDR this credit CDR corrects.",
    )
    remark = models.CharField(max_length=255, blank=True)
    raw = models.JSONField(help_text="The whole CDR exactly as received.")
    content_hash = models.CharField(max_length=40, help_text="Tells a resend from a different CDR with the same id.")
    last_updated = models.DateTimeField(help_text="The CPO's last_updated (its creation time).")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "CDR"
        constraints = [models.UniqueConstraint(fields=("country_code", "party_id", "ocpi_id"), name="unique_cdr")]
        indexes = [
            models.Index(fields=("driver", "-start_date_time"), name="cdr_driver_recent"),
            models.Index(fields=("partner", "last_updated"), name="cdr_partner_updated"),
            models.Index(fields=("received_at",), name="cdr_received"),
            # Small: only CDRs still waiting for their session or, for credits, their original CDR.
            models.Index(
                fields=("country_code", "party_id", "ocpi_session_id"),
                name="cdr_session_unlinked",
                condition=Q(session__isnull=True),
            ),
            # Small: only CDRs that arrived before their location (linked when it arrives, cdrs_link_locations).
            models.Index(
                fields=("country_code", "party_id"), name="cdr_location_unlinked", condition=Q(location__isnull=True)
            ),
            models.Index(fields=("credit_for",), name="cdr_credits", condition=Q(credit_for__isnull=False)),
            # Small: CDRs of tokens that are not ours, newest first (the back office's filter of them).
            models.Index(fields=("received_at",), name="cdr_unknown_token", condition=Q(unknown_token=True)),
            models.Index(
                fields=("country_code", "party_id", "credit_reference_id"),
                name="cdr_credit_unlinked",
                condition=Q(credit=True, credit_for__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id}" + (" (credit)" if self.credit else "")

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableCdr(f"CDR {self} is stored already: CDRs are corrected by credit CDRs, never changed.")
        super().save(*args, **kwargs)

    @property
    def ocpi_url(self) -> str:
        return cdr_url(self.pk)
