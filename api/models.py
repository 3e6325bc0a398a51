"""The API's own tables: only what makes requests safe to repeat."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """A request that started or stopped something, by the key the app sent with it (`Idempotency-Key`).

    The first request with a key claims it (unique per driver); its response is stored, and a retry with the
    same key gets that response again instead of starting a second session. Kept for IDEMPOTENCY_KEY_HOURS.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress.")
    response = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user", "key"), name="unique_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
