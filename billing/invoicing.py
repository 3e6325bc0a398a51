"""Monthly invoices to drivers and the credit notes that correct them.

`invoice_run` issues one invoice per driver and month (the `one_invoice_per_driver_period` constraint) for the
session charges not invoiced yet and the subscription fees of the month. It works through the drivers in chunks,
one transaction each: a chunk takes the lock of its number series (`InvoiceSequence`, FOR UPDATE), leaves out
the drivers another run invoiced meanwhile, numbers its invoices, writes them with their lines, marks the
charges invoiced and refreshes the drivers' balances, then commits. Hence:

- numbers have no gaps: they are taken and written in one transaction, and a rollback gives them back;
- two runs at once take turns per chunk, and neither numbers a driver the other has invoiced;
- a run killed half way leaves whole chunks; started again, it invoices the drivers that have no invoice yet;
- a charge is invoiced once (`InvoiceLine.charge` is unique), on the first run after it arrived: a late CDR's
  charge goes on the next month's invoice.

Amounts: each line is rounded to the currency's minor unit (ROUND_HALF_UP) from the charge's full precision;
VAT per rate on the sum of that rate's lines; totals are sums of lines (`../shared/billing-facts.md`).
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone, translation

from billing.balances import driver_balances_refresh
from billing.documents import Formats, document_language
from billing.models import (
    Fee,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceSequence,
    PlanSubscription,
    SessionCharge,
)
from billing.tariffs.currencies import minor_unit
from drivers.models import Driver
from emsp.lib.tasks import enqueue

logger = logging.getLogger(__name__)

#: Drivers per transaction: big enough that a run over 50,000 drivers is a hundred commits, small enough that a
#: chunk (some 10,000 lines) is held in memory and under the series lock for about a second.
CHUNK_SIZE = 500
#: A chunk that hits a unique constraint (a run of another series or year invoiced one of its drivers) is
#: tried again this often; each try leaves out the drivers invoiced meanwhile.
CHUNK_TRIES = 3
HUNDRED = Decimal(100)

Progress = Callable[[InvoiceRun], None]


class InvoicingError(Exception):
    """An invoice cannot be issued (e.g. a credit note for a credit note)."""


# --- periods, numbers and amounts -------------------------------------------------------------------------------


def period_start(value: date) -> date:
    """The first day of the month `value` falls in: a period is named by it."""
    return value.replace(day=1)


def next_period(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_period(today: date) -> date:
    """The month before the one `today` is in: what the beat job invoices on the 1st."""
    return period_start(period_start(today) - timedelta(days=1))


def billing_zone() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIME_ZONE)


def local_midnight(day: date) -> datetime:
    """The moment `day` begins in BILLING_TIME_ZONE: months are invoiced by that calendar."""
    return datetime(day.year, day.month, day.day, tzinfo=billing_zone())


def round_amount(amount: Decimal, currency: str) -> Decimal:
    """To the currency's minor unit, half up (the rule on every invoice line and VAT amount)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def vat_rate_of(country: str) -> Decimal:
    """The standard VAT rate (percent) of the driver's country, for fees that are not a session's."""
    try:
        return Decimal(settings.BILLING_VAT_RATES[country])
    except KeyError:
        raise InvoicingError(f"no VAT rate for country {country!r} in BILLING_VAT_RATES") from None


def _sequence_lock(*, series: str, year: int) -> InvoiceSequence:
    """The series' row for `year`, locked until the caller's transaction ends: whoever holds it may number
    invoices. Numbers are taken (`_numbers_take`) in the transaction that writes them, so a rollback gives
    them back."""
    InvoiceSequence.objects.bulk_create([InvoiceSequence(series=series, year=year)], ignore_conflicts=True)
    return InvoiceSequence.objects.select_for_update().get(series=series, year=year)


def _numbers_take(sequence: InvoiceSequence, count: int) -> list[str]:
    """The next `count` numbers of a locked sequence, e.g. INV-2026-000042."""
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{sequence.series}-{sequence.year}-{n:06d}" for n in range(first, first + count)]


@dataclass
class _Line:
    kind: str
    description: str
    amount: Decimal  # rounded
    unit_price: Decimal
    vat_rate: Decimal
    supplied_on: date | None = None
    location: str = ""
    energy_kwh: Decimal | None = None
    duration_hours: Decimal | None = None
    quantity: Decimal = Decimal(1)
    charge_id: int | None = None
    subscription_id: int | None = None
    fee_id: int | None = None


def vat_summary(lines: Iterable[tuple[Decimal, Decimal]], currency: str) -> list[dict[str, str]]:
    """[{rate, taxable, vat}] per VAT rate from (rate, rounded amount) pairs: VAT on the sum of the rate's lines."""
    taxable: dict[Decimal, Decimal] = defaultdict(Decimal)
    for rate, amount in lines:
        taxable[rate] += amount
    return [
        {
            "rate": f"{rate.normalize():f}",
            "taxable": str(base),
            "vat": str(round_amount(base * rate / HUNDRED, currency)),
        }
        for rate, base in sorted(taxable.items())
    ]


def _totals(summary: list[dict[str, str]]) -> tuple[Decimal, Decimal, Decimal]:
    excl = sum((Decimal(row["taxable"]) for row in summary), Decimal(0))
    vat = sum((Decimal(row["vat"]) for row in summary), Decimal(0))
    return excl, vat, excl + vat


# --- the run -----------------------------------------------------------------------------------------------------


def invoice_drivers_due(*, period: date) -> list[int]:
    """Drivers to invoice for `period`, in id order: charges not invoiced whose session ended before the month
    ended, a spell on a plan with a monthly fee during the month, or a fee not invoiced; and no invoice for the
    month yet."""
    start, end = local_midnight(period), local_midnight(next_period(period))
    charged = SessionCharge.objects.filter(invoice__isnull=True, session_end__lt=end).values("driver_id")
    subscribed = PlanSubscription.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=start), valid_from__lt=end, plan__monthly_fee__gt=0
    ).values("driver_id")
    fees = Fee.objects.filter(invoice__isnull=True, incurred_on__lt=next_period(period)).values("driver_id")
    invoiced = Invoice.objects.filter(kind=Invoice.Kind.INVOICE, period=period).values("driver_id")
    due = set(charged.distinct().values_list("driver_id", flat=True))
    due |= set(subscribed.values_list("driver_id", flat=True))
    due |= set(fees.values_list("driver_id", flat=True))
    due -= set(invoiced.values_list("driver_id", flat=True))
    return sorted(due)


def period_check_ended(period: date) -> None:
    """Refuse a month that has not ended: its invoice would miss the rest of its sessions, which would then go
    on next month's invoice, and the driver could not be invoiced for the month again."""
    begins = next_period(period_start(period))
    if timezone.now() < local_midnight(begins):
        raise InvoicingError(f"{period:%B %Y} has not ended: it can be invoiced from {begins:%d %B %Y}.")


def invoice_run_start(*, period: date, by: AbstractBaseUser | None = None) -> InvoiceRun:
    """Record a run of `period` and have a worker carry it out once this transaction commits (the admin's
    "start a run"; in the embedded mode it runs in a thread of this process)."""
    from billing.tasks import invoice_run_task  # tasks call services; this is the one way back, after commit

    period_check_ended(period)
    run = InvoiceRun.objects.create(period=period_start(period), started_at=timezone.now(), started_by=by)  # type: ignore[misc]
    enqueue(invoice_run_task, run.pk)
    return run


def _documents_render_later(*, invoice_ids: list[int]) -> None:
    """Have a worker render and store the PDFs of these invoices once they are committed: a PDF takes about a
    second, too long to hold an invoice run's chunk transaction open for (BILLING_RENDER_DOCUMENTS)."""
    from billing.tasks import invoice_documents_render_task

    if settings.BILLING_RENDER_DOCUMENTS and invoice_ids:
        enqueue(invoice_documents_render_task, invoice_ids)


def invoice_run(
    *, period: date, run: InvoiceRun | None = None, progress: Progress | None = None, chunk_size: int = CHUNK_SIZE
) -> InvoiceRun:
    """Issue the invoices of `period` (a month, named by its first day) to every driver due one.

    Safe to run again, at the same time as another run, or after a run was killed: drivers invoiced for the
    month are left out, so the month ends with one invoice per driver and gap-free numbers. `progress` is
    called with the run after each chunk.
    """
    period = period_start(period)
    period_check_ended(period)
    if run is None:
        run = InvoiceRun.objects.create(period=period, started_at=timezone.now())
    drivers = invoice_drivers_due(period=period)
    run.drivers_total = len(drivers)
    run.save(update_fields=["drivers_total"])
    if progress:
        progress(run)
    try:
        for first in range(0, len(drivers), chunk_size):
            chunk = drivers[first : first + chunk_size]
            created = _chunk_with_retries(period=period, driver_ids=chunk, run=run)
            run.drivers_done += len(chunk)
            run.invoices_created += created
            if progress:
                progress(run)
    except BaseException as exc:
        run.status, run.error, run.finished_at = InvoiceRun.Status.FAILED, repr(exc), timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        raise
    run.status, run.finished_at = InvoiceRun.Status.DONE, timezone.now()
    run.save(update_fields=["status", "finished_at"])
    return run


def _chunk_with_retries(*, period: date, driver_ids: list[int], run: InvoiceRun) -> int:
    for attempt in range(1, CHUNK_TRIES + 1):
        try:
            with transaction.atomic():
                return _invoice_chunk(period=period, driver_ids=driver_ids, run=run)
        except IntegrityError:
            if attempt == CHUNK_TRIES:
                raise
            logger.warning("invoice run %s: a chunk met another run's invoices, trying again", run.pk)
    raise AssertionError("unreachable")


def _invoice_chunk(*, period: date, driver_ids: list[int], run: InvoiceRun) -> int:
    """Invoice these drivers for `period`, in the caller's transaction; returns how many invoices."""
    now = timezone.now()
    issue_date = now.astimezone(billing_zone()).date()
    # The lock first: a run that invoiced some of these drivers has committed by the time we hold it.
    sequence = _sequence_lock(series=settings.BILLING_INVOICE_SERIES, year=issue_date.year)
    done = set(
        Invoice.objects.filter(kind=Invoice.Kind.INVOICE, period=period, driver_id__in=driver_ids).values_list(
            "driver_id", flat=True
        )
    )
    drivers = list(
        Driver.objects.filter(pk__in=[pk for pk in driver_ids if pk not in done]).select_related("user").order_by("pk")
    )
    lines = _lines_of(drivers, period=period)
    invoices: list[Invoice] = []
    due_date = issue_date + timedelta(days=settings.BILLING_PAYMENT_TERM_DAYS)
    for driver in drivers:
        driver_lines = lines.get(driver.pk)
        if not driver_lines:
            continue  # e.g. only charges in another currency
        summary = vat_summary(((line.vat_rate, line.amount) for line in driver_lines), driver.currency)
        excl, vat, incl = _totals(summary)
        invoices.append(
            Invoice(
                kind=Invoice.Kind.INVOICE,
                number="",  # below, once we know how many
                driver=driver,
                period=period,
                issued_at=now,
                issue_date=issue_date,
                due_date=due_date,
                currency=driver.currency,
                language=driver.language,
                customer_name=str(driver),
                customer_address="\n".join(
                    part for part in (driver.street, f"{driver.postal_code} {driver.city}".strip()) if part
                ),
                customer_country=driver.country,
                customer_vat_number=driver.vat_number,
                total_excl_vat=excl,
                total_vat=vat,
                total_incl_vat=incl,
                vat_summary=summary,
                run=run,
            )
        )
    if invoices:
        for invoice, number in zip(invoices, _numbers_take(sequence, len(invoices)), strict=True):
            invoice.number = number
        Invoice.objects.bulk_create(invoices)
        if any(invoice.pk is None for invoice in invoices):  # a backend that returns no keys
            by_number = dict(
                Invoice.objects.filter(number__in=[i.number for i in invoices]).values_list("number", "pk")
            )
            for invoice in invoices:
                invoice.pk = by_number[invoice.number]
        _lines_write(
            [
                (
                    invoice.pk,
                    position,
                    line.kind,
                    line.description[:255],
                    line.supplied_on,
                    line.location[:255],
                    line.energy_kwh,
                    line.duration_hours,
                    line.quantity,
                    line.unit_price,
                    line.amount,
                    line.vat_rate,
                    line.charge_id,
                    line.subscription_id,
                    line.fee_id,
                )
                for invoice in invoices
                for position, line in enumerate(lines[invoice.driver_id], start=1)
            ]
        )
        _mark_invoiced(SessionCharge, "charge_id", invoice_ids=[invoice.pk for invoice in invoices])
        _mark_invoiced(Fee, "fee_id", invoice_ids=[invoice.pk for invoice in invoices])
        _documents_render_later(invoice_ids=[invoice.pk for invoice in invoices])
    driver_balances_refresh(driver_ids=[driver.pk for driver in drivers])
    InvoiceRun.objects.filter(pk=run.pk).update(
        drivers_done=F("drivers_done") + len(driver_ids), invoices_created=F("invoices_created") + len(invoices)
    )
    return len(invoices)


_LINE_FIELDS = (
    "invoice_id",
    "position",
    "kind",
    "description",
    "supplied_on",
    "location",
    "energy_kwh",
    "duration_hours",
    "quantity",
    "unit_price_excl_vat",
    "amount_excl_vat",
    "vat_rate",
    "charge_id",
    "subscription_id",
    "fee_id",
)


def _lines_write(rows: list[tuple[Any, ...]]) -> None:
    """INSERT invoice lines given as tuples of _LINE_FIELDS. On PostgreSQL by COPY straight from the tuples: a
    million lines as model instances cost more Python time than the rest of the run."""
    if connection.vendor != "postgresql":
        InvoiceLine.objects.bulk_create(
            [InvoiceLine(**dict(zip(_LINE_FIELDS, row, strict=True))) for row in rows], batch_size=500
        )
        return
    quote = connection.ops.quote_name
    by_attname = {field.attname: field.column for field in InvoiceLine._meta.concrete_fields}
    columns = ", ".join(quote(by_attname[name]) for name in _LINE_FIELDS)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {quote(InvoiceLine._meta.db_table)} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def _mark_invoiced(model: type[SessionCharge] | type[Fee], line_column: str, *, invoice_ids: list[int]) -> None:
    """Set the `invoice` of each charge (or fee) to that of the line listing it, for these invoices, in one
    statement."""
    quote = connection.ops.quote_name
    table, lines = quote(model._meta.db_table), quote(InvoiceLine._meta.db_table)
    key = quote(model._meta.pk.column)
    placeholders = ", ".join(["%s"] * len(invoice_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET invoice_id = line.invoice_id FROM {lines} line "  # noqa: S608 # nosec B608 - names from _meta
            f"WHERE line.{quote(line_column)} = {table}.{key} AND line.invoice_id IN ({placeholders})",
            invoice_ids,
        )


@functools.lru_cache(maxsize=256)
def _words(language: str, text: str) -> str:
    """`text` in the invoice's language (a document language: en or nl). Lines are stored as the invoice shows
    them, so they are written in its language when it is issued; looked up once per run and language, as a run
    writes a million lines."""
    with translation.override(language):
        return translation.gettext(text)


@functools.lru_cache(maxsize=256)
def _month(language: str, period: date) -> str:
    return Formats(language, "EUR").month(period)


def _day(language: str, value: date, pattern: str = "medium") -> str:
    return Formats(language, "EUR").day(value, pattern)


def _lines_of(drivers: list[Driver], *, period: date) -> dict[int, list[_Line]]:
    """The lines of each driver's invoice for `period`: sessions (and credits) by start, then subscription fees."""
    currency_of = {driver.pk: driver.currency for driver in drivers}
    language_of = {driver.pk: document_language(driver.language) for driver in drivers}
    end = local_midnight(next_period(period))
    lines: dict[int, list[_Line]] = defaultdict(list)
    zone = billing_zone()
    charges = (
        SessionCharge.objects.filter(driver_id__in=list(currency_of), invoice__isnull=True, session_end__lt=end)
        .order_by("driver_id", "session_start", "cdr_id")
        # Dates and sums from the database: parsing a million timestamps in Python took a tenth of the run.
        .annotate(supplied_on=TruncDate("session_start", tzinfo=zone), hours=F("charging_hours") + F("parking_hours"))
        .values_list(
            "cdr_id",
            "driver_id",
            "currency",
            "supplied_on",
            "hours",
            "location",
            "energy_kwh",
            "amount_excl_vat",
            "vat_rate",
            "credits_id",
        )
    )
    for cdr_id, driver_id, currency, supplied_on, hours, location, energy, amount, rate, credits_id in charges:
        if currency != currency_of[driver_id]:
            logger.warning("charge of CDR %s is in %s, its driver pays in another currency: left out", cdr_id, currency)
            continue
        credit = amount < 0 or credits_id is not None
        language = language_of[driver_id]
        lines[driver_id].append(
            _Line(
                kind=InvoiceLine.Kind.CREDIT if credit else InvoiceLine.Kind.SESSION,
                description=_words(language, "Credit for the charging session of %(day)s")
                % {"day": _day(language, supplied_on)}
                if credit
                else _words(language, "Charging session"),
                amount=round_amount(amount, currency),
                unit_price=amount,
                vat_rate=rate,
                supplied_on=supplied_on,
                location=location,
                energy_kwh=energy,
                duration_hours=hours,
                charge_id=cdr_id,
            )
        )
    for driver_id, fee_lines in _subscription_lines(currency_of, language_of, period=period).items():
        lines[driver_id].extend(fee_lines)
    for driver_id, fee_lines in _fee_lines(currency_of, language_of, period=period).items():
        lines[driver_id].extend(fee_lines)
    return lines


#: Fees are compensation for a late or returned payment, not the price of a supply: outside the scope of VAT.
FEE_VAT_RATE = Decimal("0")


def _fee_lines(currency_of: dict[int, str], language_of: dict[int, str], *, period: date) -> dict[int, list[_Line]]:
    """A line per fee not invoiced yet, incurred before the month ended: a reminder's, a returned debit's."""
    fees = (
        Fee.objects.filter(driver_id__in=list(currency_of), invoice__isnull=True, incurred_on__lt=next_period(period))
        .select_related("for_invoice", "payment")
        .order_by("driver_id", "incurred_on", "pk")
    )
    lines: dict[int, list[_Line]] = defaultdict(list)
    for fee in fees:
        if fee.currency != currency_of[fee.driver_id]:
            logger.warning("fee %s is in %s, its driver pays in another currency: left out", fee.pk, fee.currency)
            continue
        language = language_of[fee.driver_id]
        values = {"number": fee.for_invoice.number, "reason": fee.payment.return_reason if fee.payment else ""}
        text = (
            "Returned direct debit of invoice %(number)s (%(reason)s): the bank's fee"
            if fee.kind == Fee.Kind.RETURNED_DEBIT
            else "Reminder fee for invoice %(number)s"
        )
        lines[fee.driver_id].append(
            _Line(
                kind=InvoiceLine.Kind.FEE,
                description=_words(language, text) % values,
                amount=fee.amount,
                unit_price=fee.amount,
                vat_rate=FEE_VAT_RATE,
                supplied_on=fee.incurred_on,
                fee_id=fee.pk,
            )
        )
    return lines


def _subscription_lines(
    currency_of: dict[int, str], language_of: dict[int, str], *, period: date
) -> dict[int, list[_Line]]:
    """A fee line per plan spell in the month, prorated by its days: the day of a change is the new plan's."""
    following = next_period(period)
    days_in_month = Decimal((following - period).days)
    zone = billing_zone()
    spells = (
        PlanSubscription.objects.filter(
            Q(valid_until__isnull=True) | Q(valid_until__gt=local_midnight(period)),
            driver_id__in=list(currency_of),
            valid_from__lt=local_midnight(following),
            plan__monthly_fee__gt=0,
        )
        .select_related("plan", "driver")
        .order_by("driver_id", "valid_from")
    )
    lines: dict[int, list[_Line]] = defaultdict(list)
    for spell in spells:
        first = max(period, spell.valid_from.astimezone(zone).date())
        until = following if spell.valid_until is None else min(following, spell.valid_until.astimezone(zone).date())
        days = (until - first).days
        if days <= 0:
            continue
        currency = currency_of[spell.driver_id]
        if spell.plan.currency != currency:
            logger.warning(
                "plan %s is in %s, driver %s pays in %s: fee left out", spell.plan, currency, spell.driver_id, currency
            )
            continue
        amount = spell.plan.monthly_fee * days / days_in_month
        language = language_of[spell.driver_id]
        if days == days_in_month:
            words = _words(language, "Subscription %(plan)s, %(month)s")
            description = words % {"plan": spell.plan.name, "month": _month(language, period)}
        else:
            words = _words(language, "Subscription %(plan)s, %(first)s to %(last)s (%(days)s of %(month_days)s days)")
            description = words % {
                "plan": spell.plan.name,
                "first": _day(language, first, "d MMM"),
                "last": _day(language, until - timedelta(days=1)),
                "days": days,
                "month_days": days_in_month,
            }
        lines[spell.driver_id].append(
            _Line(
                kind=InvoiceLine.Kind.SUBSCRIPTION,
                description=description,
                amount=round_amount(amount, currency),
                unit_price=spell.plan.monthly_fee,
                quantity=(Decimal(days) / days_in_month).quantize(Decimal("0.000001")),
                vat_rate=vat_rate_of(spell.driver.country),
                supplied_on=first,
                subscription_id=spell.pk,
            )
        )
    return lines


# --- credit notes ------------------------------------------------------------------------------------------------


def credit_note_issue(*, invoice: Invoice, by: AbstractBaseUser | None = None, reason: str = "") -> Invoice:
    """Cancel an issued invoice with a credit note that reverses it in full and refers to it (numbered in
    BILLING_CREDIT_NOTE_SERIES); the invoice becomes CREDITED and is otherwise left as it was.

    The invoice's session charges stay invoiced (on it): they are not released for another invoice. To
    correct a single session, record a new charge (e.g. the CPO's credit CDR, or a correcting charge), which
    goes on the next invoice. The credit note is settled against the invoice it cancels (status PAID) unless
    the driver had paid some of it, which we then owe back (status OPEN, a negative balance).
    """
    now = timezone.now()
    issue_date = now.astimezone(billing_zone()).date()
    with transaction.atomic():
        original = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if original.kind != Invoice.Kind.INVOICE:
            raise InvoicingError(f"{original} is a credit note; only invoices are credited")
        if original.status == Invoice.Status.CREDITED:
            raise InvoicingError(f"{original} has been credited already")
        sequence = _sequence_lock(series=settings.BILLING_CREDIT_NOTE_SERIES, year=issue_date.year)
        (number,) = _numbers_take(sequence, 1)
        note = Invoice.objects.create(
            kind=Invoice.Kind.CREDIT_NOTE,
            number=number,
            driver_id=original.driver_id,
            period=original.period,
            issued_at=now,
            issue_date=issue_date,
            due_date=issue_date,
            currency=original.currency,
            language=original.language,
            customer_name=original.customer_name,
            customer_address=original.customer_address,
            customer_country=original.customer_country,
            customer_vat_number=original.customer_vat_number,
            total_excl_vat=-original.total_excl_vat,
            total_vat=-original.total_vat,
            total_incl_vat=-original.total_incl_vat,
            vat_summary=[
                {"rate": row["rate"], "taxable": str(-Decimal(row["taxable"])), "vat": str(-Decimal(row["vat"]))}
                for row in original.vat_summary
            ],
            credited_invoice=original,
            status=Invoice.Status.OPEN if original.paid_amount else Invoice.Status.PAID,
        )
        language = document_language(original.language)
        header = _words(language, "Cancels invoice %(number)s of %(day)s") % {
            "number": original.number,
            "day": _day(language, original.issue_date),
        } + (f": {reason}" if reason else "")
        rows: list[dict[str, Any]] = [
            dict(row)
            for row in original.lines.order_by("position").values(
                "kind",
                "description",
                "supplied_on",
                "location",
                "energy_kwh",
                "duration_hours",
                "quantity",
                "unit_price_excl_vat",
                "amount_excl_vat",
                "vat_rate",
                "subscription_id",
            )
        ]
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=note,
                    position=position,
                    **(
                        row
                        | {
                            "description": ((f"{header}. " if position == 1 else "") + row["description"])[:255],
                            "unit_price_excl_vat": -row["unit_price_excl_vat"],
                            "amount_excl_vat": -row["amount_excl_vat"],
                        }
                    ),
                )
                for position, row in enumerate(rows, start=1)
            ]
        )
        Invoice.objects.filter(pk=original.pk).update(status=Invoice.Status.CREDITED)
        driver_balances_refresh(driver_ids=[original.driver_id])
        _documents_render_later(invoice_ids=[note.pk])
        logger.info("credit note %s cancels %s (by %s): %s", note.number, original.number, by, reason)
    invoice.status = Invoice.Status.CREDITED
    return note
