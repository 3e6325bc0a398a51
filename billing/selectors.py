"""Reads of billing: what the back office and finance look at."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum

from billing.models import CdrPrice, Dispute, Invoice, SessionCharge
from billing.reconciliation import COST_DIMENSIONS
from drivers.models import Driver
from roaming.models import Cdr, Partner

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


def _latest_dispute_status() -> Subquery:
    return Subquery(Dispute.objects.filter(cdr=OuterRef("pk")).order_by("-pk").values("status")[:1])


def cdrs_of_month(partner: Partner, year: int, month: int) -> QuerySet[Cdr]:
    start, end = month_bounds(year, month)
    return (
        Cdr.objects.filter(partner=partner, start_date_time__gte=start, start_date_time__lt=end)
        .select_related("price")
        .annotate(dispute_status=_latest_dispute_status())
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


# --- the driver app: a driver's own charges and invoices ---------------------------------------------------


def driver_charges(driver: Driver) -> QuerySet[SessionCharge]:
    """What the driver pays per CDR (newest first by the `charge_driver_recent` index), with the plan, the CDR's
    session and the invoice that lists it."""
    return SessionCharge.objects.filter(driver=driver).select_related("plan", "invoice", "cdr")


def driver_invoices(driver: Driver) -> QuerySet[Invoice]:
    return Invoice.objects.filter(driver=driver)


def driver_invoice(driver: Driver, pk: int) -> Invoice | None:
    return driver_invoices(driver).filter(pk=pk).prefetch_related("lines").first()
