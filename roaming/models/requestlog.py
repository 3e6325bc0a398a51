"""Every OCPI exchange in and out: the evidence support staff and disputes rely on."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

#: An exchange that failed: no answer (the error says why), an HTTP error, or an OCPI status outside 1xxx
#: (2xxx client errors, 3xxx server errors, 4xxx hub errors), whichever side asked. The start page's error rate
#: and the request log's "outcome" filter both count by it.
REQUEST_FAILED = Q(http_status__isnull=True) | Q(http_status__gte=400) | Q(ocpi_status__gte=2000) | ~Q(error="")


class OcpiRequestLog(models.Model):
    class Direction(models.TextChoices):
        IN = "in", "Partner → us"
        OUT = "out", "Us → partner"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    direction = models.CharField(max_length=3, choices=Direction.choices)
    partner = models.ForeignKey(
        "roaming.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="request_logs"
    )
    module = models.CharField(max_length=32, blank=True)
    method = models.CharField(max_length=8)
    url = models.CharField(max_length=1000)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    request_body = models.TextField(blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = [
            # The admin's "what did this partner send us lately" view.
            models.Index(fields=("partner", "-created_at"), name="requestlog_partner_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.url} → {self.http_status}/{self.ocpi_status}"
