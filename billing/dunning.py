"""Dunning: reminders for overdue invoices and, after the last one, the driver's suspension.

Run daily (`billing.dunning_run`, see emsp/celery.py). For an open invoice `d` days past its due date:
- reminder i (1-based) once d >= BILLING_REMINDER_DAYS[i-1] and reminder i-1 was sent (one level per run,
  so a backlog after an outage is worked off a level a day instead of three emails at once), with the fee of
  BILLING_REMINDER_FEES[i-1], which goes on the driver's next invoice (a `Fee`);
- after the last reminder, once d >= BILLING_SUSPEND_DAYS: the driver is suspended (`driver_set_standing`,
  which logs a TokenChange per token, so every CPO learns the tokens are invalid) and the suspension is
  recorded as the reminder of the level after the last one, with its own email.
Each level is written once per invoice (a unique constraint), so running twice a day does nothing new.
A payment in full lifts the suspension (`billing.collection.invoice_settle`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from babel.numbers import format_currency
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.balances import driver_balances_refresh
from billing.collection import billing_today, suspension_level
from billing.models import Fee, Invoice, Reminder
from drivers.models import Driver
from drivers.services import driver_set_standing

logger = logging.getLogger(__name__)

#: Plain-text emails per language; unknown languages get English.
MESSAGES = {
    "en": {
        "subject": "Reminder {level}: invoice {number} is overdue",
        "body": (
            "Dear {name},\n\n"
            "Invoice {number} of {issue_date} for {amount} was due on {due_date} and is still unpaid.\n"
            "Please pay {balance} to {iban} quoting {number}.{fee}\n\n"
            "If your charge cards are to keep working at every charger, please pay before {deadline}.\n\n"
            "Kind regards,\n{company}"
        ),
        "fee": "\nA reminder fee of {fee} applies.",
        "suspended_subject": "Your charge cards are blocked: invoice {number} is unpaid",
        "suspended_body": (
            "Dear {name},\n\n"
            "Invoice {number} of {issue_date} is still unpaid after our reminders, so your charge cards no "
            "longer work. Pay {balance} to {iban} quoting {number} and they work again at once.\n\n"
            "Kind regards,\n{company}"
        ),
    },
    "nl": {
        "subject": "Herinnering {level}: factuur {number} is niet betaald",
        "body": (
            "Beste {name},\n\n"
            "Factuur {number} van {issue_date} voor {amount} moest op {due_date} betaald zijn en staat nog open.\n"
            "Betaal alstublieft {balance} op {iban} onder vermelding van {number}.{fee}\n\n"
            "Betaal voor {deadline} om uw laadpassen bij elke laadpaal te blijven gebruiken.\n\n"
            "Met vriendelijke groet,\n{company}"
        ),
        "fee": "\nEr gelden herinneringskosten van {fee}.",
        "suspended_subject": "Uw laadpassen zijn geblokkeerd: factuur {number} is niet betaald",
        "suspended_body": (
            "Beste {name},\n\n"
            "Factuur {number} van {issue_date} is na onze herinneringen nog niet betaald; uw laadpassen werken "
            "daarom niet meer. Betaal {balance} op {iban} onder vermelding van {number} en ze werken meteen weer.\n\n"
            "Met vriendelijke groet,\n{company}"
        ),
    },
}


@dataclass
class DunningOutcome:
    reminders: int = 0
    suspended: int = 0


def _money(amount: Decimal, currency: str, language: str) -> str:
    return str(format_currency(amount, currency, locale=language))


def _email(invoice: Invoice, level: int, fee: Decimal) -> tuple[str, str]:
    texts = MESSAGES.get(invoice.language, MESSAGES["en"])
    values = {
        "level": level,
        "number": invoice.number,
        "name": invoice.customer_name,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "amount": _money(invoice.total_incl_vat, invoice.currency, invoice.language),
        "balance": _money(invoice.balance, invoice.currency, invoice.language),
        "iban": settings.BILLING_COMPANY["iban"],
        "company": settings.BILLING_COMPANY["name"],
        "deadline": (invoice.due_date + timedelta(days=settings.BILLING_SUSPEND_DAYS)).isoformat(),
    }
    if level == suspension_level():
        return texts["suspended_subject"].format(**values), texts["suspended_body"].format(**values)
    fee_text = texts["fee"].format(fee=_money(fee, invoice.currency, invoice.language)) if fee else ""
    return texts["subject"].format(**values), texts["body"].format(**values, fee=fee_text)


def _remind(invoice: Invoice, level: int, today: date) -> bool:
    """Write reminder `level` and send its email, together: a failed send leaves no record (tomorrow retries),
    and a record another run wrote first means the email went already."""
    fees = settings.BILLING_REMINDER_FEES
    fee = Decimal(fees[level - 1]) if level <= len(fees) and level < suspension_level() else Decimal("0")
    email = invoice.driver.user.email
    subject, body = _email(invoice, level, fee)
    try:
        with transaction.atomic():
            reminder = Reminder.objects.create(
                invoice=invoice, level=level, sent_at=timezone.now(), email=email, fee=fee
            )
            Invoice.objects.filter(pk=invoice.pk, reminders_sent__lt=level).update(reminders_sent=level)
            if fee:
                Fee.objects.create(
                    driver_id=invoice.driver_id,
                    kind=Fee.Kind.REMINDER,
                    amount=fee,
                    currency=invoice.currency,
                    incurred_on=today,
                    for_invoice=invoice,
                    reminder=reminder,
                )
                driver_balances_refresh(driver_ids=[invoice.driver_id])
            if email:
                send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
    except IntegrityError:
        return False
    return True


def dunning_run(*, today: date | None = None) -> DunningOutcome:
    """Send the reminders due today and suspend drivers whose last reminder went unheeded (idempotent)."""
    today = today or billing_today()
    days = settings.BILLING_REMINDER_DAYS
    last = len(days)
    outcome = DunningOutcome()
    suspended: set[int] = set()
    overdue = (
        Invoice.objects.filter(
            status=Invoice.Status.OPEN,
            kind=Invoice.Kind.INVOICE,
            due_date__lt=today,
            paid_amount__lt=F("total_incl_vat"),
        )
        .select_related("driver__user")
        .order_by("due_date", "pk")
    )
    for invoice in overdue.iterator(chunk_size=500):
        late = (today - invoice.due_date).days
        sent = set(invoice.reminders.values_list("level", flat=True))
        level = next((n for n in range(1, last + 1) if n not in sent), None)
        if level is not None:
            if late >= days[level - 1] and _remind(invoice, level, today):
                outcome.reminders += 1
            continue
        if late < settings.BILLING_SUSPEND_DAYS or suspension_level() in sent:
            # Once per invoice: a driver staff reinstated while it is unpaid (an arrangement on the phone) stays
            # reinstated; their next overdue invoice suspends them again.
            continue
        if invoice.driver.standing == Driver.Standing.GOOD and invoice.driver_id not in suspended:
            driver_set_standing(driver=invoice.driver, standing=Driver.Standing.SUSPENDED)
            suspended.add(invoice.driver_id)
            outcome.suspended += 1
            logger.info("Driver %s suspended: invoice %s is %s days overdue", invoice.driver_id, invoice.number, late)
        _remind(invoice, suspension_level(), today)
    return outcome
