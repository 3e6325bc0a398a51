"""Writing the OCPI request log, with credentials tokens masked; counting requests for /metrics.

Rows go through a BulkWriter, so a status push costs the partner no extra database round trip. The metrics are
in memory (emsp/lib/metrics.py): every request is counted, those the log leaves out (status PATCHes) too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone

from emsp.lib import metrics
from emsp.lib.bulkwrite import BulkWriter
from roaming.models import OcpiRequestLog

if TYPE_CHECKING:
    from roaming.models import Partner

REQUESTS = "emsp_ocpi_requests_total"
LATENCY = "emsp_ocpi_request_duration_seconds"
metrics.describe(REQUESTS, "counter", "OCPI requests, in (partners calling us) and out (us calling them).")
metrics.describe(LATENCY, "histogram", "OCPI request duration in seconds, as we measured it.")

# Credentials bodies carry `"token": "..."`; keep 4 characters so support can tell tokens apart.
_TOKEN_FIELD = re.compile(r'("token"\s*:\s*")([^"]{0,4})[^"]*(")')


def mask(body: str | bytes | None) -> str:
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = _TOKEN_FIELD.sub(r"\1\2****\3", text)
    limit = settings.OCPI_REQUEST_LOG_BODY_MAX
    text = text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"
    return _storable(text)


def _storable(text: str) -> str:
    # A partner may send raw NUL bytes (malformed JSON, still logged): PostgreSQL refuses NUL in text, and one
    # such row would lose the whole batch of log rows it is written with.
    return text.replace("\x00", "\ufffd")


def log_exchange(
    *,
    direction: str,
    partner: Partner | None,
    module: str,
    method: str,
    url: str,
    http_status: int | None,
    ocpi_status: int | None,
    duration_ms: int,
    request_id: str,
    correlation_id: str,
    request_body: str | bytes | None,
    response_body: str | bytes | None,
    error: str = "",
) -> None:
    row = OcpiRequestLog(
        created_at=timezone.now(),
        direction=direction,
        partner=partner,
        module=module,
        method=method[:8],  # a made-up method may be longer than any real one
        url=url[:1000],
        http_status=http_status,
        ocpi_status=ocpi_status,
        duration_ms=duration_ms,
        request_id=_storable(request_id[:64]),
        correlation_id=_storable(correlation_id[:64]),
        request_body=mask(request_body),
        response_body=mask(response_body),
        error=_storable(error),
    )
    request_log.add(row)


request_log: BulkWriter[OcpiRequestLog] = BulkWriter(OcpiRequestLog)


def partner_label(partner: Partner | None) -> str:
    """How logs and metrics name a partner: its name (staff know partners by it), or "-" before authentication."""
    return partner.name if partner is not None else "-"


def request_observe(
    *, direction: str, module: str, partner: Partner | None, http_status: int | None, seconds: float
) -> None:
    """Count one OCPI request and its duration (`http_status` None: no answer came)."""
    labels = (("direction", direction), ("module", module or "-"), ("partner", partner_label(partner)))
    metrics.inc(REQUESTS, (*labels, ("status", str(http_status) if http_status is not None else "none")))
    metrics.observe(LATENCY, labels, seconds)  # labels sorted by name, as `metrics` takes them on a hot path
