"""The durable outbox of token changes, one cursor per partner.

`drivers.TokenChange` is an append-only log; each CPO has a position in it (`last_change_id`). A push reads the
changes after that position in order, PUTs each token's current state to the CPO and moves the position on
after every success. Nothing else is stored per change, so a CPO that is down simply stays behind and catches up,
in order, when it is back.
"""

from __future__ import annotations

from django.db import models


class TokenPushCursor(models.Model):
    partner = models.OneToOneField("roaming.Partner", on_delete=models.CASCADE, related_name="token_push")
    last_change_id = models.BigIntegerField(default=0, help_text="The last TokenChange the CPO has received.")
    registered_at = models.DateTimeField(
        null=True, blank=True, help_text="The registration this position belongs to: a new one starts again at 0."
    )
    failures = models.PositiveIntegerField(default=0, help_text="Failed attempts in a row.")
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Backoff after failures.")
    locked_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="A push is running (lease, so two never overlap)."
    )

    class Meta:
        verbose_name = "token push"

    def __str__(self) -> str:
        return f"token push to {self.partner_id} at change {self.last_change_id}"
