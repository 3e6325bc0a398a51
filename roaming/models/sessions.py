"""Charging sessions as CPOs report them (OCPI Sessions module), pushed or pulled.

A session is addressed by the CPO's id under its (country_code, party_id). The fields the driver app,
billing and the back office query are columns; `cdr_token`, `total_cost`, `meter_id` and anything else
the CPO sent stay in `extra` as sent, so a GET serves back what was received. The token, driver and
location links are resolved from the ids when the session is written; each may stay empty (a token
we don't know, a location never published) without the session being refused.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from drivers.models import Token


class SessionStatus(models.TextChoices):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    RESERVATION = "RESERVATION"


#: Sessions still running (or about to): what "live" means in the back office and the driver app.
LIVE_SESSION_STATUSES = (SessionStatus.PENDING, SessionStatus.ACTIVE, SessionStatus.RESERVATION)


class ChargingSession(models.Model):
    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="sessions")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    ocpi_id = models.CharField("id", max_length=36)
    # Not limited to the choices: a value from a newer spec edition is kept as sent.
    status = models.CharField(max_length=32, choices=SessionStatus.choices)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField(null=True, blank=True)
    kwh = models.DecimalField(max_digits=12, decimal_places=4)
    auth_method = models.CharField(max_length=32)
    authorization_reference = models.CharField(
        max_length=36, blank=True, db_index=True, help_text="Links the session to our authorization or command."
    )
    # The CPO's location id (`location` is our Location row, when we know it).
    ocpi_location_id = models.CharField("location id", max_length=36)
    evse_uid = models.CharField(max_length=36)
    connector_id = models.CharField(max_length=36)
    currency = models.CharField(max_length=3)
    total_cost_excl_vat = models.DecimalField(
        max_digits=12, decimal_places=4, null=True, blank=True, help_text="Empty: not given (not the same as free)."
    )
    total_cost_incl_vat = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    token_uid = models.CharField(max_length=36)
    token_type = models.CharField(max_length=32)
    contract_id = models.CharField(max_length=36)
    token = models.ForeignKey(
        "drivers.Token", on_delete=models.SET_NULL, null=True, blank=True, related_name="charging_sessions"
    )
    driver = models.ForeignKey(
        "drivers.Driver", on_delete=models.SET_NULL, null=True, blank=True, related_name="charging_sessions"
    )
    location = models.ForeignKey(
        "roaming.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="charging_sessions"
    )
    charging_periods = models.JSONField(default=list, blank=True)
    extra = models.JSONField(default=dict, blank=True, help_text="The rest of the session as the CPO sent it.")
    content_hash = models.CharField(max_length=40, blank=True)
    last_updated = models.DateTimeField(help_text="The CPO's last_updated.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "charging session"
        constraints = [
            models.UniqueConstraint(fields=("country_code", "party_id", "ocpi_id"), name="unique_charging_session"),
        ]
        indexes = [
            # A driver's sessions, newest first (driver app, support).
            models.Index(fields=("driver", "-start_date_time"), name="session_driver_recent"),
            # Live sessions only (small): "who is charging now", sessions stuck in PENDING.
            models.Index(
                fields=("status", "last_updated"),
                name="session_live",
                condition=Q(status__in=LIVE_SESSION_STATUSES),
            ),
            models.Index(fields=("partner", "last_updated"), name="session_partner_updated"),
            # The back office: sessions newest first, and per day (the start page's figures and charts).
            models.Index(fields=("start_date_time",), name="session_started"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id}/{self.ocpi_id} {self.status}"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_SESSION_STATUSES


class ChargingPreferencesRequest(models.Model):
    """Charging preferences we sent a CPO for one of its sessions (OCPI 2.2.1), and what it answered.

    Each request is kept: the driver may change their mind during a session, and the latest ACCEPTED one is
    what the CPO charges by (it also decides which of a connector's tariffs applies: PROFILE_CHEAP, ...).
    """

    ProfileType = Token.ProfileType  # the profiles a token may also name as its default

    class State(models.TextChoices):
        PENDING = "PENDING", "Stored, not yet answered"
        ANSWERED = "ANSWERED", "The CPO answered (see response)"
        NOT_SUPPORTED = "NOT_SUPPORTED", "The CPO takes no charging preferences for this EVSE"
        FAILED = "FAILED", "Could not be delivered to the CPO"

    class Response(models.TextChoices):
        ACCEPTED = "ACCEPTED"
        DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
        ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
        NOT_POSSIBLE = "NOT_POSSIBLE"
        PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"

    session = models.ForeignKey(ChargingSession, on_delete=models.CASCADE, related_name="preference_requests")
    profile_type = models.CharField(max_length=8, choices=ProfileType.choices)
    departure_time = models.DateTimeField(null=True, blank=True)
    energy_need = models.DecimalField(
        max_digits=9, decimal_places=3, null=True, blank=True, help_text="kWh the driver wants by departure."
    )
    discharge_allowed = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Not limited to the choices: a value from a newer spec edition is kept as sent.
    response = models.CharField(max_length=32, choices=Response.choices, blank=True)
    error = models.TextField(blank=True, help_text="Why it was not delivered, or the CPO's refusal.")
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "charging preferences request"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.profile_type} for {self.session.ocpi_id}: {self.response or self.state}"
