"""Commands we send to CPOs (START_SESSION, STOP_SESSION, ...) and what became of them.

A command is asynchronous: the CPO answers the POST at once with a CommandResponse (its own verdict and how long
to wait), and the charger's outcome arrives later as a CommandResult POSTed to the command's own `response_url`.
That URL carries the command's `reference` (a UUID), so two commands in flight can never be confused. The result
may never come: past the `deadline` we record TIMEOUT ourselves.

A POST that certainly did not reach the CPO (connection refused, HTTP 429 or 503) is sent again, the same body,
until `send_until`: meanwhile the command stays PENDING with `next_attempt_at` set (roaming/services/commands.py).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Command(models.Model):
    class Type(models.TextChoices):
        START_SESSION = "START_SESSION"
        STOP_SESSION = "STOP_SESSION"
        RESERVE_NOW = "RESERVE_NOW"
        CANCEL_RESERVATION = "CANCEL_RESERVATION"
        UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"

    class State(models.TextChoices):
        PENDING = "PENDING", "Created, not yet answered by the CPO"
        SENT = "SENT", "Accepted by the CPO, waiting for the result"
        DONE = "DONE", "Finished (refused by the CPO, result received, or timed out)"
        FAILED = "FAILED", "Could not be delivered to the CPO"

    class Response(models.TextChoices):
        ACCEPTED = "ACCEPTED"
        REJECTED = "REJECTED"
        NOT_SUPPORTED = "NOT_SUPPORTED"
        UNKNOWN_SESSION = "UNKNOWN_SESSION"

    class Result(models.TextChoices):
        ACCEPTED = "ACCEPTED"
        CANCELED_RESERVATION = "CANCELED_RESERVATION"
        EVSE_OCCUPIED = "EVSE_OCCUPIED"
        EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
        FAILED = "FAILED"
        NOT_SUPPORTED = "NOT_SUPPORTED"
        REJECTED = "REJECTED"
        TIMEOUT = "TIMEOUT"
        UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"

    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="commands")
    type = models.CharField(max_length=20, choices=Type.choices)
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="In the response_url.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING, db_index=True)
    request = models.JSONField(default=dict, blank=True, help_text="The body we POSTed.")
    token = models.ForeignKey("drivers.Token", on_delete=models.PROTECT, null=True, blank=True, related_name="commands")
    location_id = models.CharField(max_length=36, blank=True)
    evse_uid = models.CharField(max_length=36, blank=True)
    connector_id = models.CharField(max_length=36, blank=True)
    session_id = models.CharField(max_length=36, blank=True)
    reservation_id = models.CharField(max_length=36, blank=True)
    authorization_reference = models.CharField(max_length=36, blank=True, db_index=True)
    response = models.CharField(max_length=16, choices=Response.choices, blank=True)
    response_timeout = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds, from the CPO.")
    response_message = models.TextField(blank=True)
    result = models.CharField(max_length=24, choices=Result.choices, blank=True)
    result_message = models.TextField(blank=True)
    result_local = models.BooleanField(default=False, help_text="TIMEOUT recorded by us: no result came in time.")
    error = models.TextField(blank=True, help_text="Why the command could not be delivered.")
    deadline = models.DateTimeField(null=True, blank=True, help_text="No result by then means TIMEOUT.")
    # Delivery: the attempt last started (1 is the inline one, in the driver's request), when the next one is due
    # (set only while the command waits for it, after a failure where the CPO certainly did not process it), and
    # the end of the window in which it may still be sent.
    send_attempts = models.PositiveSmallIntegerField(default=0, help_text="POSTs started (the same body each time).")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Being sent again: the next POST is due.")
    send_until = models.DateTimeField(null=True, blank=True, help_text="No POST is started after this.")
    # Where it is addressed (OCPI-to-*), kept for the attempts a worker makes.
    to_country_code = models.CharField(max_length=2, blank=True)
    to_party_id = models.CharField(max_length=3, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    result_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One retry per command (a double click sends one): the retry's own retry is the next attempt.
    retry_of = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retried_as",
        help_text="The timed-out or failed command this one repeats.",
    )

    class Meta:
        ordering = ("-created_at",)
        permissions = [("send_command", "Can send commands to CPOs (start, stop, unlock, reserve, cancel)")]
        indexes = [
            models.Index(fields=("state", "deadline"), name="command_state_deadline"),
            # The sweeper's: commands waiting for their next POST (few, and only for a minute).
            models.Index(
                fields=("next_attempt_at",),
                name="command_next_attempt",
                condition=models.Q(next_attempt_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.reference} ({self.state})"

    @property
    def response_url(self) -> str:
        """Where the CPO POSTs the CommandResult: unique per command, under the version agreed with the CPO."""
        return f"{settings.OCPI_BASE_URL}/{self.partner.version or '2.2.1'}/commands/{self.type}/{self.reference}"
