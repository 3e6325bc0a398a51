"""Authorizations we granted or refused: a CPO's real-time authorization of one of our tokens, or our own
pre-authorization for a START_SESSION / RESERVE_NOW command.

The `reference` goes to the CPO as `authorization_reference`; the Session and CDR it starts echo it, which is
how they are linked back to the token, the partner and, for commands, the command.

Every decision is kept with its `reason`, a refusal for a token we do not know too (no token then; the uid and
type the CPO asked about say which card it was): support answers "why did my charge fail?" from these rows.
"""

from __future__ import annotations

import uuid

from django.db import models

from drivers.models import ChargeReason


def new_authorization_reference() -> str:
    """A fresh reference: 32 hex characters, within OCPI's CiString(36)."""
    return uuid.uuid4().hex


class Authorization(models.Model):
    class Allowed(models.TextChoices):
        ALLOWED = "ALLOWED"
        BLOCKED = "BLOCKED"
        EXPIRED = "EXPIRED"
        NO_CREDIT = "NO_CREDIT"
        NOT_ALLOWED = "NOT_ALLOWED"

    class Source(models.TextChoices):
        REALTIME = "realtime", "Real-time authorization asked by the CPO"
        COMMAND = "command", "Our START_SESSION or RESERVE_NOW command"

    Reason = ChargeReason

    partner = models.ForeignKey("roaming.Partner", on_delete=models.PROTECT, related_name="authorizations")
    token = models.ForeignKey(
        "drivers.Token",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="authorizations",
        help_text="Empty: a token we do not know (see token uid and type).",
    )
    token_uid = models.CharField(max_length=36, blank=True, help_text="The uid the CPO asked about, as it wrote it.")
    token_type = models.CharField(max_length=12, blank=True)
    reference = models.CharField(max_length=36, unique=True, default=new_authorization_reference)
    allowed = models.CharField(max_length=12, choices=Allowed.choices)
    reason = models.CharField(
        max_length=16, choices=Reason.choices, blank=True, help_text="Empty: decided before reasons were kept."
    )
    location_id = models.CharField(max_length=36, blank=True, help_text="The CPO's location id, if it gave one.")
    evse_uids = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.REALTIME)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.reference} {self.allowed}"
