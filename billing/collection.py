"""Collecting what drivers owe: SEPA direct-debit mandates, collection batches (pain.008 files for finance to
upload to the bank), payments per invoice and returned debits (`docs/billing.md`, "Collection").

Every write that moves money on an invoice ends in `invoice_settle`, which derives the invoice's paid amount
and status from its payments, refreshes the driver's balance in the same transaction and lifts a dunning
suspension once nothing overdue is left.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, F, OuterRef, QuerySet, Sum
from django.utils import timezone
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaDD
from sepaxml.validation import ValidationError as SepaValidationError

from billing.balances import driver_balances_refresh
from billing.models import CollectionBatch, Fee, Invoice, Mandate, Payment, Reminder
from billing.tariffs.currencies import minor_unit
from drivers.accounts import driver_erase
from drivers.models import Driver
from drivers.services import driver_set_standing

#: Reason codes of R-transactions we expect from the bank (ISO 20022 ExternalStatusReason1Code); others are
#: accepted too, as long as they look like one (4 characters).
RETURN_REASONS = {
    "AC01": "incorrect account number",
    "AC04": "account closed",
    "AC06": "account blocked",
    "AG01": "transaction forbidden on this account",
    "AM04": "insufficient funds",
    "MD01": "no valid mandate",
    "MD06": "refund requested by the debtor",
    "MD07": "debtor deceased",
    "MS02": "refused by the debtor",
    "MS03": "reason not specified",
    "SL01": "specific service offered by the debtor's bank",
}


class MandateError(ValueError):
    """A mandate's details are not valid; `field` names the one at fault (for forms)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CollectionError(Exception):
    """A collection batch or a payment cannot be made as asked (nothing was written)."""


# --- dates -----------------------------------------------------------------------------------------------


def billing_today() -> date:
    """Today in the billing time zone: due dates and reminders count calendar days there."""
    return timezone.localdate(timezone=ZoneInfo(settings.BILLING_TIME_ZONE))


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian; the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


def is_target2_day(day: date) -> bool:
    """A TARGET2 business day: SEPA settles on these (not weekends, New Year, Good Friday, Easter Monday,
    1 May, 25 and 26 December)."""
    if day.weekday() >= 5 or (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    easter = _easter(day.year)
    return day not in (easter - timedelta(days=2), easter + timedelta(days=1))


def earliest_due_date(*, today: date | None = None) -> date:
    """The first collection date we may ask for: the pre-notification days agreed in our terms
    (BILLING_DEBIT_NOTICE_DAYS), and then one more TARGET2 business day, because the file must reach the bank at
    least a business day before the collection date."""
    day = (today or billing_today()) + timedelta(days=settings.BILLING_DEBIT_NOTICE_DAYS)
    day += timedelta(days=1)
    while not is_target2_day(day):
        day += timedelta(days=1)
    return day


# --- mandates --------------------------------------------------------------------------------------------


def _valid_iban(value: str) -> IBAN:
    try:
        return IBAN(value)
    except SchwiftyException as exc:
        raise MandateError("iban", f"{value!r} is not a valid IBAN ({exc})") from None


def _valid_bic(value: str, iban: IBAN) -> str:
    if not value.strip():
        derived = iban.bic  # from the bank registry schwifty ships, where the country has one
        return str(derived.compact) if derived is not None else ""
    try:
        return str(BIC(value).compact)
    except SchwiftyException as exc:
        raise MandateError("bic", f"{value!r} is not a valid BIC ({exc})") from None


def mandate_reference_new(driver: Driver) -> str:
    """A reference no other mandate has: the driver's id and a random part (SEPA allows 35 characters)."""
    return f"EMSP-{driver.pk}-{secrets.token_hex(6).upper()}"


def mandate_check(
    *, driver: Driver, iban: str, bic: str = "", debtor_name: str, signed_on: date, reference: str | None = None
) -> dict[str, Any]:
    """The mandate's fields, validated and normalized (IBAN compacted, BIC derived where the IBAN tells it, a
    reference made when none is given); MandateError names the first field at fault. Forms call it to show
    errors where they belong; `mandate_create` calls it again."""
    checked = _valid_iban(iban)
    checked_bic = _valid_bic(bic, checked)
    if not debtor_name.strip():
        raise MandateError("debtor_name", "the account holder's name is required")
    if len(debtor_name) > 70:
        raise MandateError("debtor_name", "at most 70 characters")
    if signed_on > billing_today():
        raise MandateError("signed_on", "a mandate cannot be signed in the future")
    reference = reference.strip() if reference else mandate_reference_new(driver)
    if len(reference) > 35:
        raise MandateError("reference", "at most 35 characters")
    if Mandate.objects.filter(reference=reference).exists():
        raise MandateError("reference", f"{reference!r} is already used by another mandate")
    return {
        "driver": driver,
        "reference": reference,
        "debtor_name": debtor_name.strip(),
        "iban": str(checked.compact),
        "bic": checked_bic,
        "signed_on": signed_on,
    }


def mandate_create(
    *,
    driver: Driver,
    iban: str,
    bic: str = "",
    debtor_name: str,
    signed_on: date,
    reference: str | None = None,
) -> Mandate:
    """Record a signed mandate, validated first. A driver collects from one account: the new mandate revokes
    the one active before it (kept, as SEPA requires, for 14 months after its last collection)."""
    fields = mandate_check(
        driver=driver, iban=iban, bic=bic, debtor_name=debtor_name, signed_on=signed_on, reference=reference
    )
    with transaction.atomic():
        Driver.objects.select_for_update().get(pk=driver.pk)  # one active mandate, even with two clerks
        for old in Mandate.objects.filter(driver=driver, status=Mandate.Status.ACTIVE):
            _revoke(old, signed_on)
        return Mandate.objects.create(**fields)


def _revoke(mandate: Mandate, on: date) -> None:
    mandate.status = Mandate.Status.REVOKED
    mandate.revoked_on = on
    mandate.save(update_fields=["status", "revoked_on"])


def mandate_revoke(*, mandate: Mandate, on: date | None = None) -> Mandate:
    """The driver withdrew the mandate: no further collections on it (the record stays)."""
    if mandate.status == Mandate.Status.ACTIVE:
        _revoke(mandate, on or billing_today())
    return mandate


def account_close(*, driver: Driver, on: date | None = None) -> Driver:
    """The driver closes their account: their mandate is revoked (no collection after it; the record stays,
    as the SEPA rulebook requires) and their personal data erased (`drivers.accounts.driver_erase`, which says
    what is kept and why). Here in billing because mandates are billing's, and drivers may not import it."""
    with transaction.atomic():
        erased = driver_erase(driver=driver)  # refuses while the driver owes us: then nothing is revoked
        for mandate in Mandate.objects.filter(driver=erased, status=Mandate.Status.ACTIVE):
            mandate_revoke(mandate=mandate, on=on)
    return erased


# --- settling invoices -----------------------------------------------------------------------------------


def _overdue_unpaid(driver_id: int, today: date) -> QuerySet[Invoice]:
    return Invoice.objects.filter(
        driver_id=driver_id, status=Invoice.Status.OPEN, due_date__lt=today, paid_amount__lt=F("total_incl_vat")
    )


def invoice_settle(*, invoice: Invoice) -> Invoice:
    """Derive the invoice's paid amount (its RECEIVED payments) and status (PAID when fully paid, else OPEN),
    refresh the driver's balance, and lift a suspension by dunning once the driver has nothing overdue left.

    Only the suspensions dunning made are lifted (dunning records one as the reminder after the last on the
    invoice it was for, `billing.dunning`): a driver staff suspended for another reason stays suspended.
    """
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        paid = locked.payments.filter(status=Payment.Status.RECEIVED).aggregate(total=Sum("amount"))["total"]
        locked.paid_amount = paid or Decimal("0")
        if locked.kind == Invoice.Kind.INVOICE and locked.status != Invoice.Status.CREDITED:
            fully = locked.paid_amount >= locked.total_incl_vat
            locked.status = Invoice.Status.PAID if fully else Invoice.Status.OPEN
        locked.save(update_fields=["paid_amount", "status"])
        driver_balances_refresh(driver_ids=[locked.driver_id])
        driver = locked.driver
        if (
            driver.standing == Driver.Standing.SUSPENDED
            and locked.status != Invoice.Status.OPEN
            and Reminder.objects.filter(invoice=locked, level=suspension_level()).exists()
            and not _overdue_unpaid(driver.pk, billing_today()).exists()
        ):
            driver_set_standing(driver=driver, standing=Driver.Standing.GOOD)
    return locked


def suspension_level() -> int:
    """The reminder level that records a suspension: the one after the last reminder."""
    return len(settings.BILLING_REMINDER_DAYS) + 1


# --- payments --------------------------------------------------------------------------------------------


def payment_check(*, invoice: Invoice, amount: Decimal, method: str) -> None:
    """CollectionError unless this is a payment we can record on the invoice (forms call it too)."""
    if amount <= 0:
        raise CollectionError("A payment must be a positive amount.")
    if amount != amount.quantize(minor_unit(invoice.currency)):
        raise CollectionError(f"{amount} has more decimals than {invoice.currency} has.")
    if method not in Payment.Method.values:
        raise CollectionError(f"Not a payment method: {method!r}.")


def payment_record(
    *,
    invoice: Invoice,
    amount: Decimal,
    received_on: date,
    method: str = Payment.Method.BANK_TRANSFER,
    reference: str = "",
    by: AbstractBaseUser | None = None,
) -> Payment:
    """Money received against an invoice by hand (a bank transfer, mostly); the invoice is settled."""
    amount = Decimal(amount)
    payment_check(invoice=invoice, amount=amount, method=method)
    with transaction.atomic():
        payment = Payment.objects.create(
            invoice=invoice,
            amount=amount,
            currency=invoice.currency,
            method=method,
            received_on=received_on,
            reference=reference,
            recorded_by_id=by.pk if by else None,
        )
        invoice_settle(invoice=invoice)
    return payment


#: A refund the debtor asks for (within 8 weeks of a debit the scheme allows it without a reason) is their
#: right: the bank's fee for it is not passed on.
RETURNS_WITHOUT_FEE = {"MD06"}


def payment_return(*, payment: Payment, reason: str, returned_on: date | None = None) -> Payment:
    """The bank returned a debit (an R-transaction with its reason code, e.g. AC04, AM04, MD06): the payment
    no longer counts and its invoice opens again, so dunning picks it up where it was. The bank's fee for the
    return (BILLING_RETURN_FEE) goes on the driver's next invoice, except for a refund the driver asked for."""
    reason = reason.strip().upper()
    if len(reason) != 4 or not reason.isalnum():
        raise CollectionError(f"Not a SEPA reason code: {reason!r} (e.g. AC04, AM04, MD06).")
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status == Payment.Status.RETURNED:
            raise CollectionError(f"Payment {locked.pk} was already returned ({locked.return_reason}).")
        locked.status = Payment.Status.RETURNED
        locked.return_reason = reason
        locked.returned_on = returned_on or billing_today()
        locked.save(update_fields=["status", "return_reason", "returned_on"])
        fee = Decimal(settings.BILLING_RETURN_FEE)
        if locked.method == Payment.Method.DIRECT_DEBIT and fee > 0 and reason not in RETURNS_WITHOUT_FEE:
            Fee.objects.create(
                driver_id=locked.invoice.driver_id,
                kind=Fee.Kind.RETURNED_DEBIT,
                amount=fee,
                currency=locked.currency,
                incurred_on=locked.returned_on,
                for_invoice=locked.invoice,
                payment=locked,
            )
        invoice_settle(invoice=locked.invoice)  # refreshes the balance, the fee included
    return locked


# --- collection batches ----------------------------------------------------------------------------------


def collectable_invoices(*, due_date: date) -> QuerySet[Invoice]:
    """Open invoices in euro with something left to pay, due by `due_date`, of drivers with an active mandate,
    and not already collected by a debit that was not returned."""
    collected = Payment.objects.filter(invoice=OuterRef("pk"), batch__isnull=False, status=Payment.Status.RECEIVED)
    active = Mandate.objects.filter(driver=OuterRef("driver"), status=Mandate.Status.ACTIVE)
    return (
        Invoice.objects.filter(
            status=Invoice.Status.OPEN,
            currency="EUR",  # SEPA collects euro only
            due_date__lte=due_date,
            paid_amount__lt=F("total_incl_vat"),
        )
        .filter(Exists(active))
        .exclude(Exists(collected))
        .order_by("number")
    )


def _creditor_config() -> dict[str, Any]:
    company = settings.BILLING_COMPANY
    iban = IBAN(company["iban"])
    bic = company.get("bic") or (iban.bic.compact if iban.bic else "")
    return {
        "name": company["name"],
        "IBAN": str(iban.compact),
        "BIC": str(bic),
        "batch": True,  # one payment-information block per sequence type and date
        "creditor_id": company["creditor_id"],
        "currency": "EUR",
    }


def _to_cents(amount: Decimal) -> int:
    return int((amount / minor_unit("EUR")).to_integral_value())


def pain008_build(debits: Iterable[tuple[Invoice, Mandate, Decimal]], *, due_date: date) -> tuple[str, str]:
    """The pain.008.001.02 file for these debits, validated against its XSD: (message id, XML)."""
    try:
        sepa = SepaDD(_creditor_config(), schema="pain.008.001.02", clean=True)
        for invoice, mandate, amount in debits:
            sepa.add_payment(
                {
                    "name": mandate.debtor_name,
                    "IBAN": mandate.iban,
                    **({"BIC": mandate.bic} if mandate.bic else {}),
                    "amount": _to_cents(amount),
                    "type": "RCUR" if mandate.last_collected_on else "FRST",
                    "collection_date": due_date,
                    "mandate_id": mandate.reference,
                    "mandate_date": mandate.signed_on,
                    "description": f"Invoice {invoice.number}",
                    "endtoend_id": invoice.number,
                }
            )
        xml = sepa.export(validate=True, pretty_print=True)
    except SepaValidationError as exc:
        raise CollectionError(f"The pain.008 file does not validate against its schema: {exc.__cause__}") from exc
    except Exception as exc:  # sepaxml reports bad input with bare Exceptions
        raise CollectionError(f"The pain.008 file could not be built: {exc}") from exc
    return str(sepa.msg_id), xml.decode("utf-8")


def collection_batch_create(*, due_date: date, by: AbstractBaseUser | None = None) -> CollectionBatch:
    """Collect every collectable invoice (`collectable_invoices`) on `due_date`: one pain.008 file, a Payment
    per invoice (counted as received; a return undoes it), and the mandates marked as collected (their next
    debit is RCUR). The file is built and validated before anything is written: a failure writes nothing."""
    earliest = earliest_due_date()
    if due_date < earliest:
        raise CollectionError(
            f"Due date {due_date} is too soon: the earliest is {earliest} "
            f"({settings.BILLING_DEBIT_NOTICE_DAYS} days' pre-notification, then one TARGET2 business day)."
        )
    if not is_target2_day(due_date):
        raise CollectionError(f"Due date {due_date} is not a TARGET2 business day.")
    with transaction.atomic():
        # Locked, so that two batches created at once cannot collect the same invoice twice.
        invoices = list(collectable_invoices(due_date=due_date).select_for_update(of=("self",)))
        if not invoices:
            raise CollectionError(f"Nothing to collect on {due_date}.")
        mandates = {
            m.driver_id: m
            for m in Mandate.objects.filter(driver_id__in={i.driver_id for i in invoices}, status=Mandate.Status.ACTIVE)
        }
        debits = [(invoice, mandates[invoice.driver_id], invoice.balance) for invoice in invoices]
        message_id, xml = pain008_build(debits, due_date=due_date)
        batch = CollectionBatch.objects.create(
            due_date=due_date,
            message_id=message_id,
            created_by_id=by.pk if by else None,
            currency="EUR",
            count=len(debits),
            total=sum((amount for _, _, amount in debits), Decimal("0")),
            xml=xml,
        )
        Payment.objects.bulk_create(
            Payment(
                invoice=invoice,
                amount=amount,
                currency=invoice.currency,
                method=Payment.Method.DIRECT_DEBIT,
                received_on=due_date,
                reference=invoice.number,
                batch=batch,
                mandate=mandate,
                recorded_by_id=by.pk if by else None,
            )
            for invoice, mandate, amount in debits
        )
        Mandate.objects.filter(pk__in=[m.pk for m in mandates.values()]).update(last_collected_on=due_date)
        for invoice in invoices:
            invoice_settle(invoice=invoice)
    return batch
