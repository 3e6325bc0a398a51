"""Collection in the admin: every write goes through the services, errors show on the form."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client

from billing.collection import mandate_create
from billing.models import CollectionBatch, Invoice, Mandate, Payment, Reminder

from .factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today() -> Iterator[None]:
    with time_machine.travel(datetime(2026, 11, 2, 11, 0, tzinfo=UTC), tick=False):
        yield


@pytest.fixture
def finance(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


def _mandate_form(driver_id: int, iban: str) -> dict[str, str]:
    return {"driver": str(driver_id), "debtor_name": "Ann Smit", "iban": iban, "signed_on": "2026-10-01"}


def test_a_mandate_with_a_bad_iban_is_refused_on_the_form_and_a_good_one_is_created(finance: Client) -> None:
    driver = a_driver()
    page = finance.post("/admin/billing/mandate/add/", _mandate_form(driver.pk, "NL91ABNA0417164301"))
    assert page.status_code == 200
    assert "not a valid IBAN" in page.content.decode()
    assert not Mandate.objects.exists()

    done = finance.post("/admin/billing/mandate/add/", _mandate_form(driver.pk, "NL91 ABNA 0417 1643 00"))
    assert done.status_code == 302
    mandate = Mandate.objects.get()
    assert (mandate.iban, mandate.bic, mandate.status) == ("NL91ABNA0417164300", "ABNANL2A", "ACTIVE")
    assert mandate.reference.startswith(f"EMSP-{driver.pk}-")


def test_a_batch_is_created_for_a_due_date_and_its_xml_downloaded(finance: Client) -> None:
    driver = a_driver()
    mandate_create(driver=driver, iban="NL91ABNA0417164300", debtor_name="Ann Smit", signed_on=date(2026, 10, 1))
    an_invoice(driver, "121.00", number="INV-2026-000001", due_date=date(2026, 11, 5))

    too_soon = finance.post("/admin/billing/collectionbatch/create/", {"due_date": "2026-11-04"}, follow=True)
    assert "too soon" in too_soon.content.decode()
    finance.post("/admin/billing/collectionbatch/create/", {"due_date": "2026-11-05"})
    batch = CollectionBatch.objects.get()
    assert "2026-11-05" in finance.get("/admin/billing/collectionbatch/").content.decode()

    xml = finance.get(f"/admin/billing/collectionbatch/{batch.pk}/xml/")
    assert xml["Content-Type"] == "application/xml"
    assert b"<EndToEndId>INV-2026-000001</EndToEndId>" in xml.content


def test_a_bank_transfer_is_recorded_and_a_payment_marked_returned(finance: Client) -> None:
    invoice = an_invoice(a_driver(), "121.00")
    form = {"invoice": str(invoice.pk), "method": "BANK_TRANSFER", "received_on": "2026-11-02", "reference": "T1"}

    refused = finance.post("/admin/billing/payment/add/", {**form, "amount": "-5"})
    assert "positive" in refused.content.decode()
    assert finance.post("/admin/billing/payment/add/", {**form, "amount": "121.00"}).status_code == 302
    payment = Payment.objects.get()
    invoice.refresh_from_db()
    assert (payment.amount, invoice.status) == (Decimal("121.00"), Invoice.Status.PAID)

    finance.post(
        "/admin/billing/payment/",
        {"action": "mark_returned", "_selected_action": [payment.pk], "reason": "MD06", "returned_on": ""},
    )
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (payment.status, payment.return_reason, invoice.status) == ("RETURNED", "MD06", Invoice.Status.OPEN)


def test_reminders_are_read_only(finance: Client) -> None:
    invoice = an_invoice(a_driver(), "121.00")
    reminder = Reminder.objects.create(invoice=invoice, level=1, sent_at=datetime(2026, 11, 2, tzinfo=UTC))
    assert finance.get("/admin/billing/reminder/").status_code == 200
    assert finance.post(f"/admin/billing/reminder/{reminder.pk}/delete/", {"post": "yes"}).status_code == 403
