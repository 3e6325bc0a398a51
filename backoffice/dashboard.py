"""The back office's start page (/admin/): which partner is failing, today's figures, the last 30 days.

`start_page_context` builds what templates/admin/index.html shows above the app list (`BackOfficeSite.index`
passes it in). Every figure carries the URL of the admin list it comes from, filtered to the same rows, so staff
go from "3 % errors at CPO X" to those requests in one click; a figure whose list the user may not view has no
link. The queries are in backoffice/selectors.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from backoffice import selectors
from backoffice.charts import Bar, bar_chart
from billing.models import Dispute, SessionCharge
from roaming.admin.anomalies import PARAMETER as ANOMALY_PARAMETER
from roaming.models import (
    Authorization,
    Cdr,
    ChargingSession,
    Command,
    OcpiRequestLog,
    Partner,
    SyncRun,
    TokenPushCursor,
)
from roaming.selectors_anomalies import ANOMALIES

#: The window of the partner health figures.
HEALTH_WINDOW = timedelta(hours=24)
#: Days in the charts, today included.
CHART_DAYS = 30
#: An error rate above this (a fraction of the window's requests) is shown as a problem.
ERROR_RATE_ALERT = 0.05
#: The CDRs whose anomalies the start page counts: those received in this window, what still wants someone's
#: attention (the CDR list's anomaly filter finds them all). The sessions' flags are about live sessions anyway.
ANOMALY_WINDOW = timedelta(days=7)
#: The anomaly counts are kept this long: the energy rule reads every CDR of the window with its connector (0.3 s
#: for 100,000 CDRs, bench/admin_bench.py), too slow for every opening of the start page. The page says when they
#: were counted; the lists behind the links are always current.
ANOMALY_COUNT_SECONDS = 300
ANOMALY_CACHE_KEY = "backoffice:anomaly-counts"


class Links:
    """URLs of admin pages for one user: a list filtered by admin lookups, or one object; "" where the user may
    not view it (or it is not in the admin). Each model's URL and permission is looked up once per page."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self._urls: dict[type[Model], str] = {}

    def _url(self, model: type[Model]) -> str:
        """The list's URL, if the user may view it."""
        if model not in self._urls:
            opts = model._meta
            allowed = self.user.has_perm(f"{opts.app_label}.view_{opts.model_name}") or self.user.has_perm(
                f"{opts.app_label}.change_{opts.model_name}"
            )
            try:
                self._urls[model] = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist") if allowed else ""
            except NoReverseMatch:
                self._urls[model] = ""
        return self._urls[model]

    def list(self, model: type[Model], **params: Any) -> str:
        """The admin list of `model` filtered by `params` (admin lookups)."""
        url = self._url(model)
        return f"{url}?{urlencode(params)}" if url and params else url

    def change(self, obj: Model) -> str:
        if not self._url(type(obj)):
            return ""
        opts = obj._meta
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def at(moment: datetime) -> str:
    """A time as an admin lookup value (ISO 8601, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Figure:
    """A number on the page and the list it comes from."""

    text: str
    url: str = ""
    alert: bool = False


def _day_params(field: str, day: date) -> dict[str, str]:
    start, end = selectors.day_bounds(day)
    return {f"{field}__gte": at(start), f"{field}__lt": at(end)}


def _percent(rate: float | None) -> str:
    if rate is None:
        return "-"
    return f"{rate * 100:.1f} %" if rate < 0.1 else f"{rate * 100:.0f} %"


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _partner_rows(links: Links, now: datetime) -> list[dict[str, Any]]:
    since = now - HEALTH_WINDOW
    rows = []
    for health in selectors.partner_health(since=since):
        partner = health.partner
        by_partner = {"partner__id__exact": partner.pk}
        window = {**by_partner, "created_at__gte": at(since)}
        syncs = [
            {
                "module": sync.module,
                "when": Figure(
                    _ago(sync.last_success, now),
                    links.list(SyncRun, **by_partner, module__exact=sync.module, status__exact="succeeded"),
                ),
                "failing": Figure(
                    "failing",
                    links.list(SyncRun, **by_partner, module__exact=sync.module, status__exact="failed"),
                    alert=True,
                )
                if sync.failing
                else None,
                "error": sync.failure_error if sync.failing else "",
            }
            for sync in health.syncs
        ]
        error = health.last_error
        if error is None:
            last_error = None
        elif error.source == "request":
            entry = OcpiRequestLog(pk=error.pk)
            last_error = {"at": error.at, "text": error.text[:200], "url": links.change(entry)}
        else:
            last_error = {
                "at": error.at,
                "text": error.text[:200],
                "url": links.list(SyncRun, **by_partner, status__exact="failed"),
            }
        refused = [value for value in Authorization.Allowed.values if value != Authorization.Allowed.ALLOWED]
        rows.append(
            {
                "partner": partner,
                "url": links.change(partner),
                "status": partner.get_status_display(),
                "registered": partner.status == Partner.Status.REGISTERED,
                "syncs": syncs,
                "requests": Figure(f"{health.requests:,}", links.list(OcpiRequestLog, **window)),
                "failed": Figure(
                    f"{health.failed_requests:,}",
                    links.list(OcpiRequestLog, **window, outcome="failed"),
                    alert=bool(health.failed_requests),
                ),
                "error_rate": Figure(
                    _percent(health.error_rate),
                    links.list(OcpiRequestLog, **window, outcome="failed"),
                    alert=(health.error_rate or 0) > ERROR_RATE_ALERT,
                ),
                "last_error": last_error,
                "push_backlog": Figure(
                    "-" if health.token_push_backlog is None else f"{health.token_push_backlog:,}",
                    links.list(TokenPushCursor, **by_partner),
                    alert=bool(health.token_push_failures),
                ),
                "push_failures": Figure(
                    f"{health.token_push_failures:,}",
                    links.list(TokenPushCursor, **by_partner),
                    alert=bool(health.token_push_failures),
                ),
                "push_error": health.token_push_error[:200],
                "refused": Figure(
                    f"{health.refused_authorizations:,}",
                    links.list(Authorization, **window, allowed__in=",".join(refused)),
                ),
                "timeouts": Figure(
                    f"{health.timed_out_commands:,}",
                    links.list(Command, **window, result__exact=Command.Result.TIMEOUT),
                    alert=bool(health.timed_out_commands),
                ),
            }
        )
    return rows


def _charts(links: Links, days: list[selectors.DayFigures]) -> list[dict[str, Any]]:
    def label(day: date) -> str:
        return f"{day.day} {day:%b}"

    def sessions_url(day: date) -> str:
        return links.list(ChargingSession, **_day_params("start_date_time", day))

    charts = [
        {
            "title": f"Sessions per day (by start), last {len(days)} days",
            "svg": bar_chart(
                [Bar(label(d.day), d.sessions, f"{d.sessions:,} sessions", sessions_url(d.day)) for d in days],
                title="Sessions per day",
            ),
            "rows": [(d.day, f"{d.sessions:,}") for d in days],
        },
        {
            "title": f"Energy per day (kWh, sessions by start), last {len(days)} days",
            "svg": bar_chart(
                [Bar(label(d.day), d.kwh, f"{d.kwh:,.0f} kWh", sessions_url(d.day)) for d in days],
                title="Energy per day (kWh)",
            ),
            "rows": [(d.day, f"{d.kwh:,.1f} kWh") for d in days],
        },
    ]
    for currency in selectors.currencies(days):
        amounts = [
            next((m for m in d.revenue if m.currency == currency), selectors.Money(selectors.ZERO, currency))
            for d in days
        ]
        charts.append(
            {
                "title": f"Revenue per day ({currency} excl. VAT, priced sessions by start), last {len(days)} days",
                "svg": bar_chart(
                    [
                        Bar(
                            label(d.day),
                            money.amount,
                            str(money),
                            links.list(SessionCharge, **_day_params("session_start", d.day)),
                        )
                        for d, money in zip(days, amounts, strict=True)
                    ],
                    title=f"Revenue per day ({currency})",
                ),
                "rows": [(d.day, str(money)) for d, money in zip(days, amounts, strict=True)],
            }
        )
    return charts


def start_page_context(request: HttpRequest, *, now: datetime | None = None) -> dict[str, Any]:
    """Everything the start page shows. About a dozen queries, each an aggregate over an index range."""
    now = now or timezone.now()
    links = Links(request.user)
    today = timezone.localdate(now)
    days = selectors.daily_figures(first=today - timedelta(days=CHART_DAYS - 1), last=today)
    figures = days[-1]
    disputes = selectors.open_disputes()
    sessions_today = links.list(ChargingSession, **_day_params("start_date_time", today))
    charges_today = links.list(SessionCharge, **_day_params("session_start", today))
    disputes_url = links.list(Dispute, status__exact=Dispute.Status.OPEN)
    return {
        "now": now,
        "today": today,
        "health_hours": int(HEALTH_WINDOW.total_seconds() // 3600),
        "partners": _partner_rows(links, now),
        "sync_modules": selectors.SYNC_MODULES,
        "today_figures": [
            {"label": "Sessions started", "figures": [Figure(f"{figures.sessions:,}", sessions_today)]},
            {"label": "Energy of these sessions", "figures": [Figure(f"{figures.kwh:,.1f} kWh", sessions_today)]},
            {
                "label": f"Revenue, excl. VAT ({figures.priced_sessions:,} priced)",
                "figures": [Figure(str(m), charges_today) for m in figures.revenue] or [Figure("none", charges_today)],
            },
            {
                "label": "Our cost of them (CPO prices)",
                "figures": [Figure(str(m), charges_today) for m in selectors.charged_cost(day=today)]
                or [Figure("none", charges_today)],
            },
            {
                "label": "Open disputes, and at stake",
                "figures": [
                    Figure(f"{disputes.count:,}", disputes_url, alert=bool(disputes.count)),
                    *(Figure(str(m), disputes_url, alert=True) for m in disputes.at_stake),
                ],
            },
        ],
        "charts": _charts(links, days),
        **_anomalies(links, now),
    }


def _anomalies(links: Links, now: datetime) -> dict[str, Any]:
    """Each anomaly flag with its count and the list filtered on it (roaming.selectors_anomalies states the
    rules), counted at most every ANOMALY_COUNT_SECONDS."""
    counted = cache.get(ANOMALY_CACHE_KEY)
    if counted is None:
        since = (now - ANOMALY_WINDOW).replace(microsecond=0)
        counts = {
            anomaly.key: (
                anomaly.rows(Cdr.objects.filter(received_at__gte=since))  # index cdr_received
                if anomaly.model is Cdr
                else anomaly.rows()
            ).count()
            for anomaly in ANOMALIES
        }
        counted = {"at": now, "since": since, "counts": counts}
        cache.set(ANOMALY_CACHE_KEY, counted, ANOMALY_COUNT_SECONDS)
    flags = []
    for anomaly in ANOMALIES:
        if anomaly.model is Cdr:
            label = f"CDRs of the last {ANOMALY_WINDOW.days} days: {anomaly.title.lower()}"
            params = {ANOMALY_PARAMETER: anomaly.key, "received_at__gte": counted["since"].isoformat()}
        else:
            label = f"Sessions: {anomaly.title.lower()}"
            params = {ANOMALY_PARAMETER: anomaly.key}
        count = counted["counts"].get(anomaly.key, 0)
        flags.append({"label": label, "count": count, "url": links.list(anomaly.model, **params)})
    return {"anomalies": flags, "anomalies_counted_at": counted["at"]}
