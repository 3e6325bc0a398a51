"""Reads of billing: what the back office and finance look at, and what drivers see of their money."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from billing.collection import billing_today
from billing.models import (
    CdrPrice,
    Dispute,
    Invoice,
    Mandate,
    PlanPriceRule,
    PlanSubscription,
    RetailPlan,
    SessionCharge,
)
from billing.reconciliation import COST_DIMENSIONS
from drivers.models import Driver
from roaming.models import Cdr, Location, Partner, Tariff

#: The finance export's columns, in order.
CSV_COLUMNS = (
    "cdr_id",
    "country_code",
    "party_id",
    "start_date_time",
    "end_date_time",
    "currency",
    "cpo_total_excl_vat",
    "cpo_total_incl_vat",
    "our_total_excl_vat",
    "our_total_incl_vat",
    "difference_excl_vat",
    "price_status",
    "dispute_status",
    "our_energy_excl_vat",
    "our_time_excl_vat",
    "our_parking_excl_vat",
    "our_fixed_excl_vat",
    "our_reservation_excl_vat",
    "credit",
)


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC: CDR times are UTC, and so is the invoice month."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def parse_month(value: str) -> tuple[int, int]:
    """'2026-11' -> (2026, 11); ValueError otherwise."""
    year, _, month = value.partition("-")
    parsed = int(year), int(month)
    if not 1 <= parsed[1] <= 12 or len(year) != 4:
        raise ValueError(f"not a month like 2026-11: {value!r}")
    return parsed


def disputes_open_by_partner() -> list[dict[str, Any]]:
    """Per partner and currency: how many disputes are open and how much is at stake (CPO minus ours)."""
    return list(
        Dispute.objects.filter(status=Dispute.Status.OPEN)
        .values("partner_id", "partner__name", "currency")
        .annotate(count=Count("pk"), amount=Sum("amount_at_stake"))
        .order_by("partner__name", "currency")
    )


def cdr_prices_arrived() -> QuerySet[CdrPrice]:
    """Unpriced CDRs whose tariff, location or credited CDR we now hold (a small set: a partial index)."""
    same_party = {"country_code": OuterRef("cdr__country_code"), "party_id": OuterRef("cdr__party_id")}
    held = {"ocpi_id": OuterRef("waiting_id"), **same_party}
    return CdrPrice.objects.filter(
        (Q(waiting_for=CdrPrice.Waiting.TARIFF) & Exists(Tariff.objects.filter(**held)))
        | (Q(waiting_for=CdrPrice.Waiting.LOCATION) & Exists(Location.objects.filter(**held)))
        | (Q(waiting_for=CdrPrice.Waiting.CDR) & Exists(Cdr.objects.filter(**held))),
        status=CdrPrice.Status.UNPRICED,
    )


def cdrs_price_backlog() -> int:
    """CDRs waiting for the pricing workers: stored and not priced yet, or unpriced until now for want of a tariff,
    location or credited CDR that has arrived since (what `cdrs_price_pending` takes). Both counts use partial
    indexes."""
    return CdrPrice.objects.filter(status=CdrPrice.Status.PENDING).count() + cdr_prices_arrived().count()


def latest_dispute_status() -> Subquery:
    """The status of a CDR's newest dispute (None: never disputed); annotate CDRs with it."""
    return Subquery(Dispute.objects.filter(cdr=OuterRef("pk")).order_by("-pk").values("status")[:1])


def cdrs_of_month(partner: Partner, year: int, month: int) -> QuerySet[Cdr]:
    start, end = month_bounds(year, month)
    return (
        Cdr.objects.filter(partner=partner, start_date_time__gte=start, start_date_time__lt=end)
        .select_related("price")
        .annotate(dispute_status=latest_dispute_status())
        .order_by("start_date_time", "pk")
    )


def _amount(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def cdr_price_rows(partner: Partner, year: int, month: int) -> Iterator[dict[str, str]]:
    """A partner's CDRs that started in the month (UTC), with the CPO's price and ours, for finance."""
    for cdr in cdrs_of_month(partner, year, month).iterator(chunk_size=2000):
        price: CdrPrice | None = getattr(cdr, "price", None)
        ours = price.total_excl_vat if price else None
        yield {
            "cdr_id": cdr.ocpi_id,
            "country_code": cdr.country_code,
            "party_id": cdr.party_id,
            "start_date_time": cdr.start_date_time.isoformat(),
            "end_date_time": cdr.end_date_time.isoformat(),
            "currency": cdr.currency,
            "cpo_total_excl_vat": _amount(cdr.total_cost_excl_vat),
            "cpo_total_incl_vat": _amount(cdr.total_cost_incl_vat),
            "our_total_excl_vat": _amount(ours),
            "our_total_incl_vat": _amount(price.total_incl_vat if price else None),
            "difference_excl_vat": _amount(None if ours is None else cdr.total_cost_excl_vat - ours),
            "price_status": price.status if price else "",
            "dispute_status": cdr.dispute_status or "",  # type: ignore[attr-defined]
            **{
                f"our_{name}_excl_vat": _amount(getattr(price, f"{name}_excl_vat") if price else None)
                for name in ("energy", "time", "parking", "fixed", "reservation")
            },
            "credit": "yes" if cdr.credit else "",
        }


def csv_lines(rows: Iterable[dict[str, str]], columns: Sequence[str] = CSV_COLUMNS) -> Iterator[str]:
    """The rows as CSV text, a line at a time (for a streaming response or a file)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def side_by_side(cdr: Cdr, price: CdrPrice | None) -> list[tuple[str, Decimal | None, Decimal | None, Decimal | None]]:
    """Per dimension: the CPO's figure, ours and the difference (CPO minus ours), excl. VAT unless named."""
    rows = []
    for dimension, cpo_field, our_field in COST_DIMENSIONS:
        cpo = getattr(cdr, cpo_field)
        ours = getattr(price, our_field) if price else None
        rows.append((dimension, cpo, ours, None if cpo is None or ours is None else cpo - ours))
    return rows


# --- what a driver sees of their money (the driver API) ------------------------------------------------


def plans_offered(*, currency: str) -> QuerySet[RetailPlan]:
    """The plans a driver may choose: available, in the driver's currency, cheapest monthly fee first, with
    their price rules (and the rules' partners) loaded."""
    rules = PlanPriceRule.objects.select_related("partner").order_by("pk")
    return (
        RetailPlan.objects.filter(available=True, currency=currency)
        .prefetch_related(Prefetch("price_rules", queryset=rules))
        .order_by("monthly_fee", "name", "pk")
    )


def plan_spell_in_force(*, driver: Driver, at: datetime | None = None) -> PlanSubscription | None:
    """The driver's spell on a plan at `at` (now); None when they never chose one (the default plan applies,
    `billing.charges.plan_in_force`)."""
    at = at or timezone.now()
    return (
        PlanSubscription.objects.filter(driver=driver, valid_from__lte=at)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .select_related("plan")
        .first()
    )


def mandate_active(*, driver: Driver) -> Mandate | None:
    """The mandate the driver's invoices are collected by (a driver has at most one active)."""
    return Mandate.objects.filter(driver=driver, status=Mandate.Status.ACTIVE).first()


@dataclass(frozen=True)
class Balance:
    """What a driver owes, in their currency: `outstanding` (issued invoices and credit notes minus payments)
    and `uninvoiced` (priced sessions not invoiced yet, incl. VAT) are the columns `billing.balances` keeps;
    the invoice figures are what of `outstanding` is on invoices still open (and past their due date)."""

    currency: str
    outstanding: Decimal
    uninvoiced: Decimal
    credit_limit: Decimal | None
    open_invoices: int
    open_amount: Decimal
    overdue_invoices: int
    overdue_amount: Decimal

    @property
    def total(self) -> Decimal:
        """What the credit limit is checked against when the driver starts charging."""
        return self.outstanding + self.uninvoiced

    @property
    def credit_available(self) -> Decimal | None:
        return None if self.credit_limit is None else max(self.credit_limit - self.total, Decimal("0"))


def driver_balance(*, driver: Driver, today: date | None = None) -> Balance:
    """The driver's balance as it stands in the database (not as the in-memory row last saw it)."""
    today = today or billing_today()
    row = Driver.objects.values("currency", "outstanding", "uninvoiced", "credit_limit").get(pk=driver.pk)
    left = ExpressionWrapper(
        F("total_incl_vat") - F("paid_amount"), output_field=DecimalField(max_digits=12, decimal_places=2)
    )
    figures = Invoice.objects.filter(driver=driver, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN).aggregate(
        open_invoices=Count("pk"),
        open_amount=Sum(left),
        overdue_invoices=Count("pk", filter=Q(due_date__lt=today)),
        overdue_amount=Sum(left, filter=Q(due_date__lt=today)),
    )
    zero = Decimal("0.00")
    return Balance(
        currency=row["currency"],
        outstanding=row["outstanding"],
        uninvoiced=row["uninvoiced"],
        credit_limit=row["credit_limit"],
        open_invoices=figures["open_invoices"],
        open_amount=figures["open_amount"] or zero,
        overdue_invoices=figures["overdue_invoices"],
        overdue_amount=figures["overdue_amount"] or zero,
    )


# --- the driver app: a driver's own charges and invoices ---------------------------------------------------


def driver_charges(driver: Driver) -> QuerySet[SessionCharge]:
    """What the driver pays per CDR (newest first by the `charge_driver_recent` index), with the plan, the CDR's
    session and the invoice that lists it."""
    return SessionCharge.objects.filter(driver=driver).select_related("plan", "invoice", "cdr")


def driver_invoices(driver: Driver) -> QuerySet[Invoice]:
    return Invoice.objects.filter(driver=driver)


def driver_invoice(driver: Driver, pk: int) -> Invoice | None:
    return driver_invoices(driver).filter(pk=pk).prefetch_related("lines").first()
