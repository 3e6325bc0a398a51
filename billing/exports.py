"""Finance exports as CSV rows, streamed (a month of invoices or CDRs does not fit in memory as objects):
the invoices issued in a month, the payments of a month, and what we owe each CPO for its CDRs of a month.

Each `*_export` returns its columns and an iterator of rows (dicts of strings) for `selectors.csv_lines`;
the `finance_export` command and the admin's export form write them out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q

from billing.models import CdrPrice, Dispute, Invoice, Payment
from billing.selectors import cdrs_of_month
from roaming.models import Partner

KINDS = ("invoices", "payments", "payables")


@dataclass
class Export:
    columns: list[str]
    rows: Iterator[dict[str, str]]


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _month(year: int, month: int) -> tuple[date, date]:
    """[first day, first day of the next month)."""
    return date(year, month, 1), date(year + (month == 12), month % 12 + 1, 1)


def _rate(value: str) -> str:
    """'21.00' and '21' are the same rate: one column."""
    return f"{Decimal(value).normalize():f}"


# --- invoices --------------------------------------------------------------------------------------------

INVOICE_COLUMNS = [
    "number",
    "kind",
    "issue_date",
    "due_date",
    "period",
    "driver_id",
    "customer_name",
    "customer_country",
    "customer_vat_number",
    "currency",
]
INVOICE_TOTAL_COLUMNS = ["total_excl_vat", "total_vat", "total_incl_vat", "status", "paid_amount", "credits_invoice"]


def invoices_of_month(year: int, month: int) -> Export:
    """Invoices and credit notes issued in the month (by issue date: the VAT return counts them so), with the
    taxable amount and VAT per rate (a pair of columns per rate that occurs), status and amount paid."""
    first, after = _month(year, month)
    invoices = Invoice.objects.filter(issue_date__gte=first, issue_date__lt=after)
    rates = sorted(
        {_rate(row["rate"]) for summary in invoices.values_list("vat_summary", flat=True) for row in summary},
        key=Decimal,
    )
    columns = [*INVOICE_COLUMNS]
    for rate in rates:
        columns += [f"taxable_{rate}", f"vat_{rate}"]
    columns += INVOICE_TOTAL_COLUMNS

    def rows() -> Iterator[dict[str, str]]:
        ordered = invoices.select_related("credited_invoice").order_by("issue_date", "number")
        for invoice in ordered.iterator(chunk_size=2000):
            per_rate: dict[str, dict[str, Decimal]] = {}
            for row in invoice.vat_summary:
                sums = per_rate.setdefault(_rate(row["rate"]), {"taxable": Decimal("0"), "vat": Decimal("0")})
                sums["taxable"] += Decimal(row["taxable"])
                sums["vat"] += Decimal(row["vat"])
            yield {
                "number": invoice.number,
                "kind": invoice.kind,
                "issue_date": invoice.issue_date.isoformat(),
                "due_date": invoice.due_date.isoformat(),
                "period": f"{invoice.period:%Y-%m}" if invoice.period else "",
                "driver_id": str(invoice.driver_id),
                "customer_name": invoice.customer_name,
                "customer_country": invoice.customer_country,
                "customer_vat_number": invoice.customer_vat_number,
                "currency": invoice.currency,
                **{
                    f"{part}_{rate}": _text(per_rate[rate][part]) if rate in per_rate else ""
                    for rate in rates
                    for part in ("taxable", "vat")
                },
                "total_excl_vat": str(invoice.total_excl_vat),
                "total_vat": str(invoice.total_vat),
                "total_incl_vat": str(invoice.total_incl_vat),
                "status": invoice.status,
                "paid_amount": str(invoice.paid_amount),
                "credits_invoice": invoice.credited_invoice.number if invoice.credited_invoice else "",
            }

    return Export(columns, rows())


# --- payments --------------------------------------------------------------------------------------------

PAYMENT_COLUMNS = [
    "received_on",
    "invoice",
    "driver_id",
    "amount",
    "currency",
    "method",
    "status",
    "return_reason",
    "returned_on",
    "reference",
    "batch",
]


def payments_of_month(year: int, month: int) -> Export:
    """Payments received in the month, and debits returned in it (a September debit returned in October shows
    in October's export too, RETURNED with the bank's reason code)."""
    first, after = _month(year, month)
    payments = (
        Payment.objects.filter(
            Q(received_on__gte=first, received_on__lt=after) | Q(returned_on__gte=first, returned_on__lt=after)
        )
        .select_related("invoice", "batch")
        .order_by("received_on", "pk")
    )

    def rows() -> Iterator[dict[str, str]]:
        for payment in payments.iterator(chunk_size=2000):
            yield {
                "received_on": payment.received_on.isoformat(),
                "invoice": payment.invoice.number,
                "driver_id": str(payment.invoice.driver_id),
                "amount": str(payment.amount),
                "currency": payment.currency,
                "method": payment.method,
                "status": payment.status,
                "return_reason": payment.return_reason,
                "returned_on": payment.returned_on.isoformat() if payment.returned_on else "",
                "reference": payment.reference,
                "batch": payment.batch.message_id if payment.batch else "",
            }

    return Export(PAYMENT_COLUMNS, rows())


# --- what we owe CPOs ------------------------------------------------------------------------------------

PAYABLE_COLUMNS = [
    "row",
    "partner_id",
    "partner",
    "cdr_id",
    "start_date_time",
    "currency",
    "cpo_total_excl_vat",
    "cpo_total_incl_vat",
    "our_total_excl_vat",
    "our_total_incl_vat",
    "dispute_status",
    "basis",
    "payable_excl_vat",
    "payable_incl_vat",
    "open_dispute",
    "credit",
]


@dataclass
class _Total:
    """A partner's payable in one currency, and how many of its CDRs are in an open dispute."""

    excl: Decimal = Decimal("0")
    incl: Decimal | None = Decimal("0")
    open: int = 0


def payable_basis(dispute_status: str | None, price: CdrPrice | None) -> str:
    """Whose price we pay for a CDR: ours only where staff accepted ours in reconciliation (the CPO must credit
    the difference); the CPO's otherwise: no dispute, the CPO's price accepted, resolved otherwise, or still
    open (flagged: finance may hold it back)."""
    ours_known = price is not None and price.total_excl_vat is not None
    return "ours" if dispute_status == Dispute.Status.OURS_ACCEPTED and ours_known else "cpo"


def payables_of_month(year: int, month: int, *, partner: Partner | None = None) -> Export:
    """Per partner, its CDRs that started in the month (UTC, as in `billing_export`) at the price we accepted,
    then a TOTAL row per partner and currency (with the number of CDRs still in an open dispute)."""
    partners = Partner.objects.filter(pk=partner.pk) if partner else Partner.objects.order_by("name", "pk")

    def rows() -> Iterator[dict[str, str]]:
        for each in partners.iterator():
            totals: dict[str, _Total] = {}
            for cdr in cdrs_of_month(each, year, month).iterator(chunk_size=2000):
                price: CdrPrice | None = getattr(cdr, "price", None)
                status: str | None = cdr.dispute_status  # type: ignore[attr-defined]
                basis = payable_basis(status, price)
                if basis == "ours":
                    assert price is not None
                    excl, incl = price.total_excl_vat, price.total_incl_vat
                else:
                    excl, incl = cdr.total_cost_excl_vat, cdr.total_cost_incl_vat
                is_open = status == Dispute.Status.OPEN
                total = totals.setdefault(cdr.currency, _Total())
                total.excl += excl or Decimal("0")
                total.incl = None if incl is None or total.incl is None else total.incl + incl
                total.open += is_open
                yield {
                    "row": "cdr",
                    "partner_id": str(each.pk),
                    "partner": each.name,
                    "cdr_id": cdr.ocpi_id,
                    "start_date_time": cdr.start_date_time.isoformat(),
                    "currency": cdr.currency,
                    "cpo_total_excl_vat": _text(cdr.total_cost_excl_vat),
                    "cpo_total_incl_vat": _text(cdr.total_cost_incl_vat),
                    "our_total_excl_vat": _text(price.total_excl_vat if price else None),
                    "our_total_incl_vat": _text(price.total_incl_vat if price else None),
                    "dispute_status": status or "",
                    "basis": basis,
                    "payable_excl_vat": _text(excl),
                    "payable_incl_vat": _text(incl),
                    "open_dispute": "yes" if is_open else "",
                    "credit": "yes" if cdr.credit else "",
                }
            for currency, total in sorted(totals.items()):
                yield {
                    "row": "total",
                    "partner_id": str(each.pk),
                    "partner": each.name,
                    "currency": currency,
                    "payable_excl_vat": _text(total.excl),
                    "payable_incl_vat": _text(total.incl),  # empty when a CDR had no incl. VAT figure
                    "open_dispute": str(total.open),
                }

    return Export(PAYABLE_COLUMNS, rows())


def finance_export(kind: str, year: int, month: int, *, partner: Partner | None = None) -> Export:
    """One of KINDS for the month; `partner` narrows payables to one CPO."""
    if kind == "invoices":
        return invoices_of_month(year, month)
    if kind == "payments":
        return payments_of_month(year, month)
    if kind == "payables":
        return payables_of_month(year, month, partner=partner)
    raise ValueError(f"not a finance export: {kind!r} (one of {', '.join(KINDS)})")
