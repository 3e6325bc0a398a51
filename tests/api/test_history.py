"""History through the driver API: sessions newest first by cursor, the charges as the driver pays them,
invoices with their lines and the PDF, and nobody else's."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from billing.invoicing import invoice_run
from billing.models import Invoice
from drivers.models import Driver
from roaming.models import ChargingSession, Partner
from tests.api.conftest import signed_in
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan
from tests.roaming.conftest import running_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(db: None) -> Partner:
    return a_partner()


def _session(partner: Partner, driver: Driver, n: int, start: datetime) -> ChargingSession:
    session = running_session(partner, ("NL", "CPO"), session_id=f"S{n}", location_id=f"LOC{n}", status="COMPLETED")
    ChargingSession.objects.filter(pk=session.pk).update(
        driver=driver, start_date_time=start, end_date_time=start + timedelta(hours=1), last_updated=start
    )
    session.refresh_from_db()
    return session


def test_sessions_newest_first_by_cursor_with_their_cost(app: APIClient, ann: Driver, partner: Partner) -> None:
    plan = a_plan()
    start = timezone.now() - timedelta(days=10)
    sessions = [_session(partner, ann, n, start + timedelta(days=n)) for n in range(3)]
    cdr = a_cdr(partner, ann, start=sessions[2].start_date_time, session=sessions[2])
    a_charge(cdr, plan, amount="10.004", vat_rate="21")
    _session(partner, a_driver("Bob Jansen"), 9, start)  # not Ann's

    first = app.get("/api/v1/history/sessions?page_size=2")
    assert first.status_code == 200
    page = first.json()
    assert [s["id"] for s in page["results"]] == [sessions[2].pk, sessions[1].pk]
    assert page["results"][0]["cost"] == {"currency": "EUR", "incl_vat": "12.10"}  # 10.00 + 21 % VAT
    assert page["results"][0]["charge_ids"] == [cdr.pk]
    assert page["results"][1]["cost"] is None
    second = app.get(page["next"]).json()
    assert [s["id"] for s in second["results"]] == [sessions[0].pk]
    assert second["next"] is None

    detail = app.get(f"/api/v1/history/sessions/{sessions[2].pk}").json()
    assert (detail["status"], detail["duration_seconds"]) == ("finished", 3600)


def test_a_charge_as_the_driver_pays_it(app: APIClient, ann: Driver, partner: Partner) -> None:
    plan = a_plan()
    cdr = a_cdr(partner, ann, total_cost="9.00")
    lines = [
        {
            "kind": "cost",
            "description": "charging (CPO price)",
            "quantity": "1",
            "unit_price": "9.00",
            "amount": "9.00",
        },
        {"kind": "markup", "description": "markup 10 %", "quantity": "9.00", "unit_price": "0.1", "amount": "0.900"},
    ]
    a_charge(cdr, plan, amount="9.90", vat_rate="21", lines=lines)

    listed = app.get("/api/v1/history/charges").json()["results"]
    assert len(listed) == 1
    charge = app.get(f"/api/v1/history/charges/{cdr.pk}").json()
    assert charge == listed[0]
    assert (charge["excl_vat"], charge["vat_rate"], charge["vat"], charge["incl_vat"]) == (
        "9.90",
        "21",
        "2.08",
        "11.98",
    )
    assert charge["lines"] == lines
    assert (charge["plan"], charge["currency"], charge["is_credit"], charge["invoice"]) == (
        "Pay as you go",
        "EUR",
        False,
        None,
    )


def test_invoices_with_lines_and_the_pdf(app: APIClient, ann: Driver, partner: Partner) -> None:
    plan = a_plan()
    cdr = a_cdr(partner, ann, start=datetime(2026, 10, 5, 10, tzinfo=UTC))
    a_charge(cdr, plan, amount="10.00", vat_rate="21")
    invoice_run(period=date(2026, 10, 1))
    invoice = Invoice.objects.get(driver=ann)
    assert not invoice.document

    listed = app.get("/api/v1/invoices").json()["results"]
    assert [(i["id"], i["number"], i["total_incl_vat"], i["pdf"]) for i in listed] == [
        (invoice.pk, invoice.number, "12.10", f"/api/v1/invoices/{invoice.pk}/pdf")
    ]
    detail = app.get(f"/api/v1/invoices/{invoice.pk}").json()
    session_lines = [line for line in detail["lines"] if line["kind"] == "SESSION"]
    assert [(line["charge_id"], line["amount_excl_vat"]) for line in session_lines] == [(cdr.pk, "10.00")]
    assert detail["vat_summary"][0]["vat"] == "2.10"
    assert app.get(f"/api/v1/history/charges/{cdr.pk}").json()["invoice"] == {
        "id": invoice.pk,
        "number": invoice.number,
    }

    pdf = app.get(f"/api/v1/invoices/{invoice.pk}/pdf", HTTP_ACCEPT="application/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    content = b"".join(pdf.streaming_content)  # type: ignore[attr-defined]
    assert invoice.number in PdfReader(io.BytesIO(content)).pages[0].extract_text()
    invoice.refresh_from_db()
    assert invoice.document  # stored on the first request, served as stored after
    again = app.get(f"/api/v1/invoices/{invoice.pk}/pdf")
    assert b"".join(again.streaming_content) == content  # type: ignore[attr-defined]


OPERATIONS = [
    "/api/v1/history/sessions",
    "/api/v1/history/sessions/{session}",
    "/api/v1/history/charges",
    "/api/v1/history/charges/{charge}",
    "/api/v1/invoices",
    "/api/v1/invoices/{invoice}",
    "/api/v1/invoices/{invoice}/pdf",
]


@pytest.fixture
def anns_things(ann: Driver, partner: Partner) -> dict[str, Any]:
    session = _session(partner, ann, 1, timezone.now() - timedelta(days=2))
    cdr = a_cdr(partner, ann, session=session)
    a_charge(cdr, a_plan())
    invoice = Invoice.objects.create(
        number="TEST-1", driver=ann, issued_at=timezone.now(), issue_date=date.today(), due_date=date.today(),
        currency="EUR", customer_name="Ann Smit", total_incl_vat=Decimal("12.10"),
    )  # fmt: skip
    return {"session": session.pk, "charge": cdr.pk, "invoice": invoice.pk}


@pytest.mark.parametrize("path", OPERATIONS)
def test_signed_out_callers_are_refused(path: str, anns_things: dict[str, Any]) -> None:
    reply = APIClient().get(path.format(**anns_things))
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")


@pytest.mark.parametrize("path", [p for p in OPERATIONS if "{" in p])
def test_another_drivers_ids_are_not_found(path: str, anns_things: dict[str, Any]) -> None:
    bob = signed_in(a_driver("Bob Jansen"))
    reply = bob.get(path.format(**anns_things))
    assert (reply.status_code, reply.json()["error"]["type"]) == (404, "not_found")


@pytest.mark.parametrize("path", [p for p in OPERATIONS if "{" not in p])
def test_another_drivers_lists_are_empty(path: str, anns_things: dict[str, Any]) -> None:
    bob = signed_in(a_driver("Bob Jansen"))
    assert bob.get(path).json()["results"] == []
