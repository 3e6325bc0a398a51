"""Reads for the back office's start page: partner health, today's figures and the last 30 days.

Every figure is one aggregate query over an index range (the last 24 hours, today, the last 30 days), never a
loop over rows in Python: the request log holds millions of rows, sessions and CDRs hundreds of thousands. The
queries are written to be served by the indexes named next to them (checked with EXPLAIN on PostgreSQL with
1,000,000 log rows: bench/admin_bench.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import CdrPrice, Dispute, SessionCharge
from roaming.models import (
    Authorization,
    ChargingSession,
    Command,
    OcpiRequestLog,
    Partner,
    SyncRun,
)
from roaming.models.requestlog import REQUEST_FAILED
from roaming.selectors import token_changes_pending_count

#: The modules the pull sync runs, in the order the page shows them.
SYNC_MODULES: tuple[str, ...] = tuple(SyncRun.Module.values)
ZERO = Decimal("0")


@dataclass(frozen=True)
class Money:
    """An amount with its currency: amounts in different currencies are never added up."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"


@dataclass(frozen=True)
class SyncState:
    module: str
    last_success: datetime | None
    last_failure: datetime | None
    failure_error: str

    @property
    def failing(self) -> bool:
        """The latest run we know of failed: no success since the last failure."""
        return self.last_failure is not None and (self.last_success is None or self.last_failure > self.last_success)


@dataclass(frozen=True)
class LastError:
    at: datetime
    text: str
    source: str  # "request" or "sync"
    pk: int


@dataclass
class PartnerHealth:
    partner: Partner
    syncs: list[SyncState]
    requests: int = 0
    failed_requests: int = 0
    last_error: LastError | None = None
    token_push_backlog: int | None = None  # None: no token push to this partner
    token_push_failures: int = 0
    token_push_error: str = ""
    refused_authorizations: int = 0
    timed_out_commands: int = 0

    @property
    def error_rate(self) -> float | None:
        """Failed requests per request in the window, as a fraction; None without requests."""
        return self.failed_requests / self.requests if self.requests else None


def partner_health(*, since: datetime) -> list[PartnerHealth]:
    """Each partner we roam with (not the unregistered ones): syncs, request errors since `since`, token push,
    refused authorizations and timed-out commands since `since`. A fixed number of queries, whatever the
    number of partners or rows."""
    partners = _partners_with_syncs_and_push()
    health = {
        p.pk: PartnerHealth(
            partner=p,
            syncs=[
                SyncState(
                    module=m,
                    last_success=getattr(p, f"ok_{m}"),
                    last_failure=getattr(p, f"failed_{m}"),
                    failure_error=getattr(p, f"error_{m}") or "",
                )
                for m in SYNC_MODULES
            ],
            token_push_backlog=p.push_backlog if p.push_position is not None else None,  # type: ignore[attr-defined]
            token_push_failures=p.push_failures or 0,  # type: ignore[attr-defined]
            token_push_error=p.push_error or "",  # type: ignore[attr-defined]
        )
        for p in partners
    }
    if not health:
        return []
    # The window's rows by the created_at index (about a thirtieth of a log kept 30 days).
    counts = (
        OcpiRequestLog.objects.filter(partner__in=list(health), created_at__gte=since)
        .values("partner")
        .annotate(total=Count("pk"), failed=Count("pk", filter=REQUEST_FAILED))
        .order_by()
    )
    for row in counts:
        health[row["partner"]].requests, health[row["partner"]].failed_requests = row["total"], row["failed"]
    _attach_last_errors(health, since)
    # Index on created_at: the window's rows only.
    refused = (
        Authorization.objects.filter(created_at__gte=since)
        .exclude(allowed=Authorization.Allowed.ALLOWED)
        .values("partner")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in refused:
        if row["partner"] in health:
            health[row["partner"]].refused_authorizations = row["n"]
    timed_out = (
        Command.objects.filter(created_at__gte=since, result=Command.Result.TIMEOUT)
        .values("partner")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in timed_out:
        if row["partner"] in health:
            health[row["partner"]].timed_out_commands = row["n"]
    return list(health.values())


def _partners_with_syncs_and_push() -> list[Partner]:
    """Partners with, per sync module, the last success and the last failure (index syncrun_latest: partner,
    module, status, -started_at; one index probe each), and their token push position and backlog."""
    runs = SyncRun.objects.filter(partner=OuterRef("pk")).order_by("-started_at")
    annotations: dict[str, Subquery] = {}
    for module in SYNC_MODULES:
        ok = runs.filter(module=module, status=SyncRun.Status.SUCCEEDED)
        failed = runs.filter(module=module, status=SyncRun.Status.FAILED)
        annotations[f"ok_{module}"] = Subquery(ok.values("finished_at")[:1])
        annotations[f"failed_{module}"] = Subquery(failed.values("started_at")[:1])
        annotations[f"error_{module}"] = Subquery(failed.values("error")[:1])
    return list(
        Partner.objects.exclude(status=Partner.Status.UNREGISTERED)
        .annotate(
            **annotations,
            push_position=F("token_push__last_change_id"),
            push_failures=F("token_push__failures"),
            push_error=F("token_push__last_error"),
            push_backlog=token_changes_pending_count(OuterRef("token_push__last_change_id")),
        )
        .order_by("name", "pk")
    )


def _attach_last_errors(health: dict[int, PartnerHealth], since: datetime) -> None:
    """The latest failed request since `since` (walking the partner's index backwards from now, it stops at
    the first failure) or the latest failed sync, whichever came last."""
    latest_failure = (
        OcpiRequestLog.objects.filter(partner=OuterRef("pk"), created_at__gte=since)
        .filter(REQUEST_FAILED)
        .order_by("-created_at")
        .values("pk")[:1]
    )
    ids = list(
        Partner.objects.filter(pk__in=list(health)).annotate(last=Subquery(latest_failure)).values_list("pk", "last")
    )
    rows = OcpiRequestLog.objects.in_bulk([last for _, last in ids if last is not None])
    for partner_id, last in ids:
        if last is None:
            continue
        row = rows[last]
        text = row.error or f"{row.method} {row.url}: HTTP {row.http_status or '-'}, OCPI {row.ocpi_status or '-'}"
        health[partner_id].last_error = LastError(at=row.created_at, text=text, source="request", pk=row.pk)
    for item in health.values():
        failed = [s for s in item.syncs if s.last_failure is not None]
        if not failed:
            continue
        sync = max(failed, key=lambda s: s.last_failure or datetime.min)
        assert sync.last_failure is not None
        if item.last_error is None or sync.last_failure > item.last_error.at:
            text = f"{sync.module} sync: {sync.failure_error}"
            item.last_error = LastError(at=sync.last_failure, text=text, source="sync", pk=0)


@dataclass
class DayFigures:
    """One day's sessions (by start), their energy, and the revenue and cost of the priced ones."""

    day: date
    sessions: int = 0
    kwh: Decimal = ZERO
    revenue: list[Money] = field(default_factory=list)  # per currency, excl. VAT
    priced_sessions: int = 0


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A calendar day in the admin's time zone (UTC), as [start, end)."""
    start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
    return start, start + timedelta(days=1)


def charged_cost(*, day: date) -> list[Money]:
    """What the CPOs charge us (our price of their CDRs) for the priced sessions that started on `day`: CdrPrice is
    keyed by the CDR, as the session charge is, so this is a join on primary keys of that day's charges."""
    start, end = day_bounds(day)
    rows = (
        CdrPrice.objects.filter(cdr__charge__session_start__gte=start, cdr__charge__session_start__lt=end)
        .exclude(total_excl_vat=None)
        .values("currency")
        .annotate(total=Sum("total_excl_vat"))
        .order_by("currency")
    )
    return [Money(row["total"], row["currency"]) for row in rows]


def daily_figures(*, first: date, last: date) -> list[DayFigures]:
    """Sessions, energy and revenue per day from `first` to `last` (inclusive), days without any included.
    Two grouped queries over index ranges: session_started (start_date_time) and charge_session_start."""
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    dates = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    days = {day: DayFigures(day=day) for day in dates}
    zone = timezone.get_current_timezone()
    sessions = (
        ChargingSession.objects.filter(start_date_time__gte=start, start_date_time__lt=end)
        .annotate(day=TruncDate("start_date_time", tzinfo=zone))
        .values("day")
        .annotate(n=Count("pk"), kwh=Sum("kwh"))
        .order_by()
    )
    for row in sessions:
        days[row["day"]].sessions, days[row["day"]].kwh = row["n"], row["kwh"] or ZERO
    charges = (
        SessionCharge.objects.filter(session_start__gte=start, session_start__lt=end)
        .annotate(day=TruncDate("session_start", tzinfo=zone))
        .values("day", "currency")
        .annotate(n=Count("pk"), amount=Sum("amount_excl_vat"))
        .order_by()  # grouped by hashing; sorted below (sorting the rows first spilled to disk)
    )
    for row in sorted(charges, key=lambda row: row["currency"]):
        days[row["day"]].revenue.append(Money(row["amount"], row["currency"]))
        days[row["day"]].priced_sessions += row["n"]
    return list(days.values())


@dataclass(frozen=True)
class OpenDisputes:
    count: int
    at_stake: list[Money]  # per currency: what we would overpay if the CPOs' prices stood


def open_disputes() -> OpenDisputes:
    """Open disputes and the sum at stake (the partial index of one_open_dispute_per_cdr holds only them)."""
    rows = list(
        Dispute.objects.filter(status=Dispute.Status.OPEN)
        .values("currency")
        .annotate(n=Count("pk"), total=Sum("amount_at_stake"))
        .order_by("currency")
    )
    return OpenDisputes(
        count=sum(row["n"] for row in rows), at_stake=[Money(row["total"], row["currency"]) for row in rows]
    )


def currencies(days: list[DayFigures]) -> list[str]:
    """The currencies with revenue in these days, alphabetically: one revenue chart each."""
    return sorted({money.currency for day in days for money in day.revenue})
