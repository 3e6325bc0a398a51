"""/metrics for Prometheus: the OCPI request counters of every process (emsp/lib/metrics.py), and gauges read
from the database when scraped (a handful of indexed counts, no state kept between scrapes).

Not public: partner names and volumes are business data. Staff signed in to the back office may read it, and a
scraper that sends `Authorization: Bearer <METRICS_TOKEN>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from billing.selectors import cdrs_price_backlog, disputes_open_by_partner
from emsp.lib import metrics
from emsp.lib.tasks import outbox_backlog
from roaming.selectors import command_timeouts_by_partner, commands_sending_count, syncs_last_succeeded

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Gauge = tuple[str, dict[str, str], float]

metrics.describe(
    "emsp_sync_lag_seconds", "gauge", "Seconds since the last successful pull of a module from a partner started."
)
metrics.describe("emsp_outbox_due_tasks", "gauge", "Tasks due in the outbox that the broker has not taken yet.")
metrics.describe("emsp_outbox_oldest_due_seconds", "gauge", "How late the oldest due task in the outbox is (0: none).")
metrics.describe("emsp_pricing_backlog_cdrs", "gauge", "CDRs waiting to be priced.")
metrics.describe("emsp_command_timeouts_total", "counter", "Commands that ended in TIMEOUT, per partner.")
metrics.describe(
    "emsp_commands_sending",
    "gauge",
    "Commands waiting for another POST: their CPO was unreachable (429, 503, refused).",
)
metrics.describe("emsp_disputes_open", "gauge", "Open price disputes with CPOs, per partner and currency.")
metrics.describe("emsp_disputes_open_amount", "gauge", "Amount at stake in open disputes (CPO price minus ours).")


def allowed(request: HttpRequest) -> bool:
    """Staff, or the bearer of METRICS_TOKEN (compared in constant time)."""
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_active and user.is_staff)


def database_gauges() -> Iterator[Gauge]:
    now = timezone.now()
    for row in syncs_last_succeeded():
        lag = (now - row["started_at"]).total_seconds()
        yield "emsp_sync_lag_seconds", {"partner": row["partner__name"], "module": row["module"]}, round(lag, 3)
    backlog = outbox_backlog()
    yield "emsp_outbox_due_tasks", {}, backlog["due"]
    yield "emsp_outbox_oldest_due_seconds", {}, backlog["oldest_due_seconds"] or 0
    yield "emsp_pricing_backlog_cdrs", {}, cdrs_price_backlog()
    for row in command_timeouts_by_partner():
        yield "emsp_command_timeouts_total", {"partner": row["partner__name"]}, row["count"]
    yield "emsp_commands_sending", {}, commands_sending_count()
    disputes = disputes_open_by_partner()
    for row in disputes:
        yield "emsp_disputes_open", {"partner": row["partner__name"], "currency": row["currency"]}, row["count"]
    for row in disputes:
        labels = {"partner": row["partner__name"], "currency": row["currency"]}
        yield "emsp_disputes_open_amount", labels, float(row["amount"] or 0)


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        response = HttpResponse("Forbidden: staff, or Authorization: Bearer <METRICS_TOKEN>.\n", status=403)
        response["WWW-Authenticate"] = "Bearer"
        return response
    return HttpResponse(metrics.exposition(database_gauges()), content_type=CONTENT_TYPE)
