"""Dunning over simulated days: reminders after the configured days, suspension after the last one (every
token logged as changed for the CPOs), and a payment in full restoring the driver's standing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core import mail

from billing.collection import payment_record
from billing.dunning import dunning_run
from billing.models import Invoice, Reminder
from billing.tasks import dunning_run_task
from drivers.models import Driver, TokenChange
from drivers.services import driver_set_standing

from .factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db

DUE = date(2026, 10, 15)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _run_day(day: date, *, twice: bool = False) -> None:
    """The daily job as beat runs it, at 07:15 UTC on that day (and once more, when asked)."""
    with time_machine.travel(datetime(day.year, day.month, day.day, 7, 15, tzinfo=UTC), tick=False):
        dunning_run_task()
        if twice:
            dunning_run_task()


def _standing(driver: Driver) -> str:
    driver.refresh_from_db()
    return driver.standing


def _overdue(driver: Driver, total: str = "121.00", **fields: object) -> Invoice:
    return an_invoice(driver, total, issue_date=DUE - timedelta(days=14), due_date=DUE, **fields)  # type: ignore[arg-type]


def test_reminders_at_due_plus_7_and_21_then_suspension_and_paying_in_full_restores() -> None:
    driver = a_driver("Ann Smit", language="nl")
    invoice = _overdue(driver, number="INV-2026-000042")
    changes_before = TokenChange.objects.filter(token__driver=driver).count()
    sent_on: dict[int, date] = {}
    suspended_on = None

    for day in _days(DUE, DUE + timedelta(days=35)):
        _run_day(day, twice=day.day % 2 == 0)  # every other day twice: nothing is sent twice
        for reminder in Reminder.objects.filter(invoice=invoice):
            sent_on.setdefault(reminder.level, day)
        if suspended_on is None and _standing(driver) == Driver.Standing.SUSPENDED:
            suspended_on = day

    assert sent_on == {1: DUE + timedelta(days=7), 2: DUE + timedelta(days=21), 3: DUE + timedelta(days=28)}
    assert suspended_on == DUE + timedelta(days=28)
    assert [(r.level, r.fee, r.email) for r in invoice.reminders.order_by("level")] == [
        (1, Decimal("0"), driver.user.email),
        (2, Decimal("5.00"), driver.user.email),
        (3, Decimal("0"), driver.user.email),  # the suspension notice
    ]
    invoice.refresh_from_db()
    assert (invoice.reminders_sent, invoice.status) == (3, Invoice.Status.OPEN)
    assert len(mail.outbox) == 3
    first, second, suspension = mail.outbox
    assert first.to == [driver.user.email]
    assert first.subject == "Herinnering 1: factuur INV-2026-000042 is niet betaald"  # the driver's language
    assert "121,00" in first.body
    assert "herinneringskosten" not in first.body
    assert "herinneringskosten van €\xa05,00" in second.body  # Babel, Dutch
    assert "geblokkeerd" in suspension.subject
    # Suspension logged every token as changed: the push tells every CPO the token is no longer valid.
    assert [c.reason for c in TokenChange.objects.filter(token__driver=driver)[changes_before:]] == ["driver suspended"]

    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), tick=False):
        payment_record(invoice=invoice, amount=Decimal("100.00"), received_on=date(2026, 11, 20))
        assert _standing(driver) == Driver.Standing.SUSPENDED  # partly paid is not paid
        payment_record(invoice=invoice, amount=Decimal("21.00"), received_on=date(2026, 11, 20))
    assert _standing(driver) == Driver.Standing.GOOD
    assert TokenChange.objects.filter(token__driver=driver).latest("pk").reason == "driver good"

    _run_day(date(2026, 11, 21))
    assert (_standing(driver), len(mail.outbox)) == (Driver.Standing.GOOD, 3)


def test_english_reminders_and_nothing_before_the_days() -> None:
    driver = a_driver("Bob Jansen", language="en")
    _overdue(driver, number="INV-2026-000043")

    for day in _days(DUE, DUE + timedelta(days=6)):
        _run_day(day)
    assert mail.outbox == []
    _run_day(DUE + timedelta(days=7))
    assert [m.subject for m in mail.outbox] == ["Reminder 1: invoice INV-2026-000043 is overdue"]
    assert "€121.00" in mail.outbox[0].body


def test_a_paid_invoice_or_a_credit_note_gets_no_reminder() -> None:
    driver = a_driver()
    paid = _overdue(driver)
    with time_machine.travel(datetime(2026, 10, 16, 10, 0, tzinfo=UTC), tick=False):
        payment_record(invoice=paid, amount=Decimal("121.00"), received_on=date(2026, 10, 16))
    _overdue(driver, "-10.00", kind=Invoice.Kind.CREDIT_NOTE)

    for day in (DUE + timedelta(days=7), DUE + timedelta(days=21), DUE + timedelta(days=30)):
        _run_day(day)

    assert (Reminder.objects.count(), len(mail.outbox), _standing(driver)) == (0, 0, Driver.Standing.GOOD)


def test_one_level_a_day_when_dunning_did_not_run_for_a_while() -> None:
    driver = a_driver()
    invoice = _overdue(driver)

    for day in _days(DUE + timedelta(days=40), DUE + timedelta(days=43)):
        _run_day(day)
        assert invoice.reminders.count() == min(3, (day - DUE).days - 39)
    assert _standing(driver) == Driver.Standing.SUSPENDED


def test_paying_one_of_two_overdue_invoices_keeps_the_suspension() -> None:
    driver = a_driver()
    first, second = _overdue(driver), _overdue(driver, "30.25")
    for day in (DUE + timedelta(days=7), DUE + timedelta(days=21), DUE + timedelta(days=28)):
        _run_day(day)
    assert _standing(driver) == Driver.Standing.SUSPENDED

    with time_machine.travel(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), tick=False):
        payment_record(invoice=first, amount=Decimal("121.00"), received_on=date(2026, 11, 20))
        assert _standing(driver) == Driver.Standing.SUSPENDED
        payment_record(invoice=second, amount=Decimal("30.25"), received_on=date(2026, 11, 20))
    assert _standing(driver) == Driver.Standing.GOOD


def test_a_suspension_staff_made_is_not_lifted_by_a_payment() -> None:
    driver = a_driver()
    invoice = an_invoice(driver, "121.00")
    driver_set_standing(driver=driver, standing=Driver.Standing.SUSPENDED)

    payment_record(invoice=invoice, amount=Decimal("121.00"), received_on=invoice.issue_date)

    assert _standing(driver) == Driver.Standing.SUSPENDED


def test_a_driver_staff_reinstated_stays_reinstated_until_the_next_invoice_is_overdue() -> None:
    driver = a_driver()
    _overdue(driver)
    for day in _days(DUE, DUE + timedelta(days=28)):
        _run_day(day)
    assert _standing(driver) == Driver.Standing.SUSPENDED
    driver_set_standing(driver=driver, standing=Driver.Standing.GOOD)  # staff, after an arrangement on the phone

    for day in _days(DUE + timedelta(days=29), DUE + timedelta(days=40)):
        _run_day(day)
    assert _standing(driver) == Driver.Standing.GOOD

    later = date(2026, 12, 15)
    an_invoice(driver, "30.25", issue_date=later - timedelta(days=14), due_date=later)
    for day in _days(later, later + timedelta(days=28)):
        _run_day(day)
    assert _standing(driver) == Driver.Standing.SUSPENDED


def test_dunning_is_idempotent_within_a_day() -> None:
    driver = a_driver()
    _overdue(driver)
    day = DUE + timedelta(days=7)
    with time_machine.travel(datetime(day.year, day.month, day.day, 7, 15, tzinfo=UTC), tick=False):
        first = dunning_run()
        again = dunning_run()
    assert (first.reminders, again.reminders, len(mail.outbox)) == (1, 0, 1)
