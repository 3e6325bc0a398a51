"""The monthly invoice run and credit notes, in one process: lines, rounding, VAT per rate, subscription fees,
late and credit CDRs, idempotency, gap-free numbers across a rollback. (Runs in two processes and a run killed
half way: test_invoicing_processes.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from billing import invoicing
from billing.invoicing import InvoicingError, credit_note_issue, invoice_run
from billing.models import Invoice, InvoiceLine, InvoiceRun, InvoiceSequence, PlanSubscription, SessionCharge
from drivers.models import Driver
from roaming.models import Partner
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
OCTOBER, NOVEMBER = date(2026, 10, 1), date(2026, 11, 1)


@pytest.fixture(autouse=True)
def _november() -> Iterator[None]:
    """Invoices are issued on the morning of 1 November 2026 (numbers of 2026)."""
    with time_machine.travel(datetime(2026, 11, 1, 4, 0, tzinfo=AMS), tick=False):
        yield


@pytest.fixture
def partner() -> Partner:
    return a_partner()


def charge(
    partner: Partner, driver: Driver, start: datetime, amount: str, vat_rate: str = "21", **fields: Any
) -> SessionCharge:
    plan = fields.pop("plan", None) or a_plan(f"plan {amount} {start.isoformat()} {driver.pk}")
    return a_charge(a_cdr(partner, driver, start=start), plan, amount=amount, vat_rate=vat_rate, **fields)


def at(day: int, hour: int = 10, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=AMS)


def test_one_line_per_session_rounded_half_up_and_vat_on_the_sum_of_each_rate(partner: Partner) -> None:
    driver = a_driver("Ann Smit", vat_number="NL123456789B01")
    charges = [charge(partner, driver, at(day), "0.125") for day in (3, 5, 7)]
    reduced = charge(partner, driver, at(9), "10.005", vat_rate="9")

    run = invoice_run(period=OCTOBER)

    assert (run.status, run.drivers_total, run.drivers_done, run.invoices_created) == ("DONE", 1, 1, 1)
    invoice = Invoice.objects.get(driver=driver)
    lines = list(invoice.lines.order_by("position"))
    assert [(line.kind, line.amount_excl_vat, line.vat_rate) for line in lines] == [
        ("SESSION", Decimal("0.13"), Decimal("21")),  # half up: banker's rounding would give 0.12
        ("SESSION", Decimal("0.13"), Decimal("21")),
        ("SESSION", Decimal("0.13"), Decimal("21")),
        ("SESSION", Decimal("10.01"), Decimal("9")),
    ]
    first = lines[0]
    assert first.supplied_on == date(2026, 10, 3)
    assert first.location == "Central Garage, Stationsplein 1, Amsterdam"
    assert (first.energy_kwh, first.duration_hours) == (Decimal("22.5"), Decimal("1.5"))
    assert (first.unit_price_excl_vat, first.charge_id) == (Decimal("0.125"), charges[0].pk)
    # VAT per rate on the sum of its lines: 21 % of 0.39 is 0.08 (per line it would be 3 x 0.03 = 0.09).
    assert invoice.vat_summary == [
        {"rate": "9", "taxable": "10.01", "vat": "0.90"},
        {"rate": "21", "taxable": "0.39", "vat": "0.08"},
    ]
    assert invoice.total_excl_vat == sum(line.amount_excl_vat for line in lines) == Decimal("10.40")
    assert (invoice.total_vat, invoice.total_incl_vat) == (Decimal("0.98"), Decimal("11.38"))
    assert invoice.number == "INV-2026-000001"
    assert (invoice.issue_date, invoice.due_date, invoice.period) == (date(2026, 11, 1), date(2026, 11, 15), OCTOBER)
    assert (invoice.customer_name, invoice.customer_address) == ("Ann Smit", "Damrak 1\n1012 LG Amsterdam")
    assert (invoice.customer_country, invoice.customer_vat_number, invoice.currency) == ("NL", "NL123456789B01", "EUR")
    assert set(SessionCharge.objects.values_list("invoice_id", flat=True)) == {invoice.pk}
    assert reduced.pk in invoice.lines.values_list("charge_id", flat=True)
    driver.refresh_from_db()
    assert (driver.outstanding, driver.uninvoiced) == (Decimal("11.38"), Decimal("0"))


def test_a_subscription_changed_mid_month_gives_two_prorated_fee_lines(partner: Partner) -> None:
    driver = a_driver()
    basic, plus = a_plan("Basic", monthly_fee=Decimal("31.00")), a_plan("Plus", monthly_fee=Decimal("62.00"))
    change = at(11, 15)
    PlanSubscription.objects.create(
        driver=driver, plan=basic, valid_from=datetime(2026, 9, 3, tzinfo=UTC), valid_until=change
    )
    PlanSubscription.objects.create(driver=driver, plan=plus, valid_from=change)
    charge(partner, driver, at(20), "5.00", plan=plus)

    invoice_run(period=OCTOBER)

    lines = list(Invoice.objects.get(driver=driver).lines.order_by("position"))
    assert [(line.kind, line.amount_excl_vat, line.quantity) for line in lines] == [
        ("SESSION", Decimal("5.00"), Decimal("1")),
        # 1-10 October on Basic (31.00 x 10/31), from the day of the change on Plus (62.00 x 21/31).
        ("SUBSCRIPTION", Decimal("10.00"), Decimal("0.322581")),
        ("SUBSCRIPTION", Decimal("42.00"), Decimal("0.677419")),
    ]
    assert [line.vat_rate for line in lines[1:]] == [Decimal("21"), Decimal("21")]
    assert "Basic" in lines[1].description
    assert "10 of 31 days" in lines[1].description
    assert lines[2].subscription_id == PlanSubscription.objects.get(plan=plus).pk


def test_a_whole_month_on_a_plan_is_its_full_fee_even_without_sessions() -> None:
    driver = a_driver()
    PlanSubscription.objects.create(
        driver=driver, plan=a_plan("Plus", monthly_fee=Decimal("9.99")), valid_from=datetime(2026, 1, 1, tzinfo=UTC)
    )
    free = a_driver()
    PlanSubscription.objects.create(driver=free, plan=a_plan("Free"), valid_from=datetime(2026, 1, 1, tzinfo=UTC))

    invoice_run(period=OCTOBER)

    invoice = Invoice.objects.get()
    assert invoice.driver == driver
    assert list(invoice.lines.values_list("kind", "amount_excl_vat")) == [("SUBSCRIPTION", Decimal("9.99"))]
    assert invoice.total_incl_vat == Decimal("12.09")  # 9.99 + 2.0979 VAT


def test_lines_are_written_in_the_invoice_language(partner: Partner) -> None:
    """An invoice keeps its lines as issued: a Dutch driver's lines, dates and months are Dutch."""
    ann, joost = a_driver("Ann Smit"), a_driver("Joost Bakker", language="nl")
    basic = a_plan("Basic", monthly_fee=Decimal("31.00"))
    for driver in (ann, joost):
        PlanSubscription.objects.create(driver=driver, plan=basic, valid_from=datetime(2026, 1, 1, tzinfo=UTC))
        session = charge(partner, driver, at(5), "10.00")
        charge(partner, driver, at(5), "-10.00", credits=session)

    invoice_run(period=OCTOBER)

    def described(driver: Driver) -> list[str]:
        return list(Invoice.objects.get(driver=driver).lines.order_by("position").values_list("description", flat=True))

    assert described(ann) == [
        "Charging session",
        "Credit for the charging session of Oct 5, 2026",
        "Subscription Basic, October 2026",
    ]
    assert described(joost) == [
        "Laadsessie",
        "Creditering van de laadsessie van 5 okt 2026",
        "Abonnement Basic, oktober 2026",
    ]
    note = credit_note_issue(invoice=Invoice.objects.get(driver=joost))
    assert note.lines.get(position=1).description.startswith("Crediteert factuur INV-2026-000002 van 1 nov 2026. ")


def test_a_late_cdr_goes_on_the_next_invoice_never_twice(partner: Partner) -> None:
    driver = a_driver()
    on_time = charge(partner, driver, at(20), "4.00")
    # Ends at 00:30 on 1 November in Amsterdam (23:30 UTC on 31 October): November's.
    november = charge(partner, driver, datetime(2026, 10, 31, 23, 0, tzinfo=AMS), "2.00")
    november_end = SessionCharge.objects.get(pk=november.pk).session_end
    assert november_end.astimezone(AMS).date() == date(2026, 11, 1)

    invoice_run(period=OCTOBER)
    october = Invoice.objects.get(driver=driver, period=OCTOBER)
    assert list(october.lines.values_list("charge_id", flat=True)) == [on_time.pk]

    late = charge(partner, driver, at(30), "3.00")  # an October session whose CDR came after the run
    again = invoice_run(period=OCTOBER)
    assert (again.drivers_total, again.invoices_created) == (0, 0)
    assert SessionCharge.objects.get(pk=late.pk).invoice is None

    with time_machine.travel(datetime(2026, 12, 1, 4, 0, tzinfo=AMS), tick=False):
        invoice_run(period=NOVEMBER)
        invoice_run(period=NOVEMBER)
    nov = Invoice.objects.get(driver=driver, period=NOVEMBER)
    assert sorted(nov.lines.values_list("charge_id", flat=True)) == sorted([late.pk, november.pk])
    assert nov.number == "INV-2026-000002"
    assert InvoiceLine.objects.filter(charge__isnull=False).count() == SessionCharge.objects.count() == 3
    assert dict(SessionCharge.objects.values_list("pk", "invoice_id")) == {
        on_time.pk: october.pk,
        november.pk: nov.pk,
        late.pk: nov.pk,
    }


def test_a_cpo_credit_cdr_becomes_a_credit_line(partner: Partner) -> None:
    driver = a_driver()
    session = charge(partner, driver, at(5), "10.00")
    credit = charge(partner, driver, at(5), "-10.00", credits=session)
    charge(partner, driver, at(6), "8.00")

    invoice_run(period=OCTOBER)

    invoice = Invoice.objects.get(driver=driver)
    lines = list(invoice.lines.order_by("position"))
    assert [(line.kind, line.amount_excl_vat) for line in lines] == [
        ("SESSION", Decimal("10.00")),
        ("CREDIT", Decimal("-10.00")),
        ("SESSION", Decimal("8.00")),
    ]
    assert lines[1].charge_id == credit.pk
    assert "Credit" in lines[1].description
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        Decimal("8.00"),
        Decimal("1.68"),
        Decimal("9.68"),
    )


def test_a_second_run_for_the_period_creates_nothing(partner: Partner) -> None:
    drivers = [a_driver() for _ in range(3)]
    for driver in drivers:
        charge(partner, driver, at(12), "7.50")

    invoice_run(period=OCTOBER, chunk_size=2)
    before = list(Invoice.objects.order_by("number").values_list("number", "driver_id", "total_incl_vat"))
    second = invoice_run(period=OCTOBER)

    assert (second.status, second.drivers_total, second.invoices_created) == ("DONE", 0, 0)
    assert list(Invoice.objects.order_by("number").values_list("number", "driver_id", "total_incl_vat")) == before
    assert [number for number, _, _ in before] == [f"INV-2026-{n:06d}" for n in (1, 2, 3)]
    assert InvoiceSequence.objects.get(series="INV", year=2026).last_number == 3


def test_a_rollback_in_the_middle_leaves_no_gap(partner: Partner, monkeypatch: pytest.MonkeyPatch) -> None:
    drivers = [a_driver() for _ in range(3)]
    for driver in drivers:
        charge(partner, driver, at(12), "1.00")
    refresh = invoicing.driver_balances_refresh

    def failing_for_the_second(*, driver_ids: Any) -> int:
        if drivers[1].pk in driver_ids:
            raise RuntimeError("database went away")
        return refresh(driver_ids=driver_ids)

    monkeypatch.setattr(invoicing, "driver_balances_refresh", failing_for_the_second)
    with pytest.raises(RuntimeError):
        invoice_run(period=OCTOBER, chunk_size=1)
    failed = InvoiceRun.objects.get()
    assert (failed.status, failed.drivers_done, failed.invoices_created) == ("FAILED", 1, 1)
    assert "database went away" in failed.error
    assert list(Invoice.objects.values_list("number", "driver_id")) == [("INV-2026-000001", drivers[0].pk)]
    assert InvoiceSequence.objects.get(series="INV").last_number == 1  # the failed chunk's number came back
    assert SessionCharge.objects.filter(invoice__isnull=True).count() == 2

    monkeypatch.setattr(invoicing, "driver_balances_refresh", refresh)
    invoice_run(period=OCTOBER, chunk_size=1)
    assert list(Invoice.objects.order_by("number").values_list("number", "driver_id")) == [
        (f"INV-2026-{n:06d}", driver.pk) for n, driver in enumerate(drivers, start=1)
    ]


def test_a_credit_note_reverses_the_invoice_and_keeps_its_charges(partner: Partner) -> None:
    driver = a_driver()
    charge(partner, driver, at(3), "10.00")
    charge(partner, driver, at(4), "5.555", vat_rate="9")
    invoice_run(period=OCTOBER)
    invoice = Invoice.objects.get()

    note = credit_note_issue(invoice=invoice, reason="wrong address")

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CREDITED
    assert (note.kind, note.number, note.credited_invoice) == ("CREDIT_NOTE", "CRN-2026-000001", invoice)
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (
        -invoice.total_excl_vat,
        -invoice.total_vat,
        -invoice.total_incl_vat,
    )
    assert note.vat_summary == [
        {"rate": "9", "taxable": "-5.56", "vat": "-0.50"},
        {"rate": "21", "taxable": "-10.00", "vat": "-2.10"},
    ]
    assert [(line.amount_excl_vat, line.charge_id) for line in note.lines.order_by("position")] == [
        (Decimal("-10.00"), None),
        (Decimal("-5.56"), None),
    ]
    assert "INV-2026-000001" in note.lines.get(position=1).description
    assert (note.customer_name, note.customer_address) == (invoice.customer_name, invoice.customer_address)
    assert SessionCharge.objects.filter(invoice=invoice).count() == 2  # not released
    driver.refresh_from_db()
    assert (driver.outstanding, driver.uninvoiced) == (Decimal("0"), Decimal("0"))
    with pytest.raises(InvoicingError):
        credit_note_issue(invoice=invoice)
    with pytest.raises(InvoicingError):
        credit_note_issue(invoice=note)
    assert InvoiceSequence.objects.get(series="CRN").last_number == 1
    # The month stays invoiced: crediting does not make the driver due another invoice for it.
    assert invoice_run(period=OCTOBER).invoices_created == 0


def test_the_command_prints_a_summary(partner: Partner, capsys: pytest.CaptureFixture[str]) -> None:
    charge(partner, a_driver(), at(12), "1.00")
    call_command("invoice_run", "--period", "2026-10")
    assert "for 2026-10: DONE, 1 of 1 drivers, 1 invoices created" in capsys.readouterr().out


def test_the_beat_task_invoices_the_month_before() -> None:
    from billing.tasks import invoice_run_task

    driver = a_driver()
    PlanSubscription.objects.create(
        driver=driver, plan=a_plan("Plus", monthly_fee=Decimal("3.00")), valid_from=datetime(2026, 1, 1, tzinfo=UTC)
    )
    # 00:30 on 1 November in Amsterdam is still 31 October in UTC: the month before is October all the same.
    with time_machine.travel(datetime(2026, 11, 1, 0, 30, tzinfo=AMS), tick=False):
        assert invoice_run_task() == 1
    assert Invoice.objects.get().period == OCTOBER


def test_staff_start_a_run_and_credit_an_invoice_in_the_admin(
    partner: Partner, admin_client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    driver = a_driver()
    charge(partner, driver, at(12), "2.00")

    with django_capture_on_commit_callbacks(execute=True):
        reply = admin_client.post("/admin/billing/invoicerun/start/", {"period": "2026-10"})
    assert reply.status_code == 302
    run = InvoiceRun.objects.get()
    assert (run.period, run.status, run.invoices_created, run.started_by) == (
        OCTOBER,
        "DONE",
        1,
        User.objects.get(username="admin"),
    )
    assert "1 / 1" in admin_client.get("/admin/billing/invoicerun/").content.decode()

    invoice = Invoice.objects.get()
    page = admin_client.get(f"/admin/billing/invoice/?q={driver.user.email}").content.decode()
    assert invoice.number in page
    admin_client.post(
        "/admin/billing/invoice/", {"action": "issue_credit_note", "_selected_action": [invoice.pk]}, follow=True
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.CREDITED
    assert Invoice.objects.get(kind=Invoice.Kind.CREDIT_NOTE).credited_invoice == invoice
    assert admin_client.get(f"/admin/billing/invoice/{invoice.pk}/change/").status_code == 200


def test_a_month_that_has_not_ended_is_not_invoiced(admin_client: Any) -> None:
    """Its invoice would miss the rest of its sessions, and the month could not be invoiced again."""
    this_month = invoicing.period_start(invoicing.timezone.now().astimezone(invoicing.billing_zone()).date())

    with pytest.raises(InvoicingError, match="has not ended"):
        invoice_run(period=this_month)
    with pytest.raises(CommandError, match="has not ended"):
        call_command("invoice_run", period=f"{this_month:%Y-%m}")
    page = admin_client.post("/admin/billing/invoicerun/start/", {"period": f"{this_month:%Y-%m}"})
    assert page.status_code == 200
    assert "has not ended" in page.content.decode()
    assert not InvoiceRun.objects.exists()


def test_the_demo_driver_can_be_invoiced_for_last_month_at_once() -> None:
    """`make run`: the demo driver is on Plus since last month, so last month's run invoices its fee."""
    driver = a_driver("Dana Driver")
    call_command("billing_demo", driver=driver.user.username)
    call_command("billing_demo", driver=driver.user.username)  # idempotent
    last_month = invoicing.previous_period(invoicing.timezone.now().astimezone(invoicing.billing_zone()).date())

    run = invoice_run(period=last_month)

    (invoice,) = Invoice.objects.filter(run=run)
    (line,) = invoice.lines.all()
    assert (invoice.driver, line.kind, line.amount_excl_vat) == (driver, "SUBSCRIPTION", Decimal("4.99"))
