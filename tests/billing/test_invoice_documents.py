"""Invoice documents: the PDF read back with pypdf (number, customer, lines, VAT summary, totals, payment, in
English and Dutch), credit notes, storing once, the back-office views and their permissions."""

from __future__ import annotations

import io
import logging
import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from billing.admin.documents import invoice_document_links
from billing.documents import invoice_document_store, invoice_html, invoice_pdf
from billing.models import Invoice, InvoiceLine, Mandate
from billing.tasks import invoice_documents_render_task
from drivers.models import Driver
from tests.billing.factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db


def an_invoice_with_lines(driver: Driver, **fields: Any) -> Invoice:
    """November 2026, issued 1 December: two sessions and a subscription fee at 21 %, a fee at 9 %.

    21 %: 1,000.00 + 12.40 + 4.99 = 1,017.39, VAT 213.65; 9 %: 200.00, VAT 18.00.
    Totals 1,217.39 + 231.65 = 1,449.04.
    """
    values: dict[str, Any] = {
        "period": date(2026, 11, 1),
        "issue_date": date(2026, 12, 1),
        "due_date": date(2026, 12, 15),
        "currency": "EUR",
        "customer_address": "Damrak 1\n1012 LG Amsterdam\nNetherlands",
        "total_excl_vat": Decimal("1217.39"),
        "total_vat": Decimal("231.65"),
        "vat_summary": [
            {"rate": "21", "taxable": "1017.39", "vat": "213.65"},
            {"rate": "9", "taxable": "200.00", "vat": "18.00"},
        ],
    }
    values.update(fields)
    invoice = an_invoice(driver, "1449.04", **values)
    session = {"kind": InvoiceLine.Kind.SESSION, "location": "Central Garage, Stationsplein 1, Amsterdam"}
    rows: list[dict[str, Any]] = [
        session
        | {
            "description": "Charging session",
            "supplied_on": date(2026, 11, 3),
            "energy_kwh": Decimal("22.500000"),
            "duration_hours": Decimal("1.500000"),
            "unit_price_excl_vat": Decimal("1000.0000"),
            "amount_excl_vat": Decimal("1000.00"),
            "vat_rate": Decimal("21"),
        },
        session
        | {
            "description": "Charging session",
            "supplied_on": date(2026, 11, 20),
            "energy_kwh": Decimal("31.000000"),
            "duration_hours": Decimal("0.750000"),
            "unit_price_excl_vat": Decimal("12.4000"),
            "amount_excl_vat": Decimal("12.40"),
            "vat_rate": Decimal("21"),
        },
        {
            "kind": InvoiceLine.Kind.SUBSCRIPTION,
            "description": "Plus plan, November 2026",
            "unit_price_excl_vat": Decimal("4.9900"),
            "amount_excl_vat": Decimal("4.99"),
            "vat_rate": Decimal("21"),
        },
        {
            "kind": InvoiceLine.Kind.FEE,
            "description": "Card replacement",
            "unit_price_excl_vat": Decimal("200.0000"),
            "amount_excl_vat": Decimal("200.00"),
            "vat_rate": Decimal("9"),
        },
    ]
    for position, row in enumerate(rows, start=1):
        InvoiceLine.objects.create(invoice=invoice, position=position, **row)
    return invoice


def pdf_text(pdf: bytes) -> str:
    """The PDF's text, with no-break spaces and runs of white space as single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " "))


ENGLISH = [
    "Invoice",
    "Invoice number",
    "Issue date December 1, 2026",
    "Due date December 15, 2026",
    "Period November 2026",
    "Nov 3, 2026",
    "22.5",
    "1:30",
    "€1,000.00",
    "Subscription fee: Plus plan, November 2026",
    # The VAT summary: rate, taxable amount, VAT, total per rate.
    "21% €1,017.39 €213.65 €1,231.04",
    "9% €200.00 €18.00 €218.00",
    "Total excl. VAT €1,217.39",
    "VAT €231.65",
    "Total incl. VAT €1,449.04",
]
DUTCH = [
    "Factuur",
    "Factuurnummer",
    "Factuurdatum 1 december 2026",
    "Vervaldatum 15 december 2026",
    "Periode november 2026",
    "3 nov 2026",
    "22,5",
    "1:30",
    "€ 1.000,00",
    "Abonnementskosten: Plus plan, November 2026",
    "21% € 1.017,39 € 213,65 € 1.231,04",
    "9% € 200,00 € 18,00 € 218,00",
    "Totaal excl. btw € 1.217,39",
    "Btw € 231,65",
    "Totaal incl. btw € 1.449,04",
]


@pytest.mark.parametrize(("language", "expected"), [("en", ENGLISH), ("nl", DUTCH)])
def test_the_pdf_shows_number_customer_lines_vat_summary_and_totals_in_the_drivers_language(
    language: str, expected: list[str]
) -> None:
    invoice = an_invoice_with_lines(a_driver("Ann Smit", language=language), language=language)
    text = pdf_text(invoice_pdf(invoice))
    for fragment in [invoice.number, "Ann Smit", "Damrak 1", "1012 LG Amsterdam", *expected]:
        assert fragment in text, (fragment, text)
    # Our company (art. 226): name, address, VAT number, chamber of commerce, IBAN and BIC.
    company = settings.BILLING_COMPANY
    for value in (company["name"], "Stationsplein 1", company["vat_number"], company["chamber_of_commerce"]):
        assert value in text
    assert "NL91 ABNA 0417 1643 00" in text
    assert company["bic"] in text
    # Each session: its location, and no line of the other language's labels.
    assert text.count("Central Garage, Stationsplein 1, Amsterdam") == 2
    other = DUTCH if language == "en" else ENGLISH
    assert other[1] not in text


def _heights(pdf: bytes) -> dict[str, float]:
    """Where each piece of text of the PDF's pages sits, from the top of the first page (points)."""
    reader = PdfReader(io.BytesIO(pdf))
    found: dict[str, float] = {}
    for number, page in enumerate(reader.pages):
        top = float(page.mediabox.top)

        def seen(text: str, cm: list[float], tm: list[float], *_: Any, number: int = number, top: float = top) -> None:
            if text.strip():
                found.setdefault(text.strip(), number * top + top - (cm[5] + tm[5] * cm[3]))

        page.extract_text(visitor_text=seen)
    return found


def test_the_blocks_follow_each_other_down_the_page() -> None:
    """The company, the customer and the invoice's facts, the lines, the totals, the payment: each block below
    the one before. (WeasyPrint drew the lines over the facts when a block's floats were not cleared.)"""
    invoice = an_invoice_with_lines(a_driver("Ann Smit"), language="en")
    at = _heights(invoice_pdf(invoice))

    def below(upper: str, lower: str) -> bool:
        return at[next(t for t in at if lower in t)] > at[next(t for t in at if upper in t)]

    assert below("Invoice", "IBAN: NL91")
    assert below("IBAN: NL91", "Customer number")
    assert below("IBAN: NL91", "Damrak 1")
    assert below("Customer number", "Description")  # the lines' table header
    assert below("Card replacement", "Total excl. VAT")
    assert below("Total incl. VAT", "Payment")


def test_without_a_mandate_the_driver_is_asked_to_transfer_with_the_invoice_number_as_reference() -> None:
    invoice = an_invoice_with_lines(a_driver(language="nl"), language="nl")
    text = pdf_text(invoice_pdf(invoice))
    assert "Gelieve € 1.449,04 uiterlijk 15 december 2026 over te maken naar:" in text
    assert f"Betalingskenmerk: {invoice.number}" in text
    assert "Machtigingskenmerk" not in text


def test_with_an_active_mandate_the_invoice_announces_the_direct_debit_with_a_masked_iban() -> None:
    driver = a_driver()
    Mandate.objects.create(
        driver=driver,
        reference="EMSP-M-000042",
        debtor_name="Ann Smit",
        iban="DE89370400440532013000",
        signed_on=date(2026, 1, 5),
    )
    text = pdf_text(invoice_pdf(an_invoice_with_lines(driver)))
    assert (
        "We will collect €1,449.04 by SEPA direct debit from account DE89 **** **** 3000 on or after December 15, 2026."
    ) in text
    assert "Mandate reference: EMSP-M-000042" in text
    assert "DE89370400440532013000" not in text
    assert "Please transfer" not in text


def test_a_credit_note_names_the_invoice_it_corrects() -> None:
    driver = a_driver(language="nl")
    original = an_invoice_with_lines(driver, language="nl")
    credit = an_invoice(
        driver,
        "-12.10",
        kind=Invoice.Kind.CREDIT_NOTE,
        credited_invoice=original,
        language="nl",
        issue_date=date(2026, 12, 9),
        total_excl_vat=Decimal("-10.00"),
        total_vat=Decimal("-2.10"),
        vat_summary=[{"rate": "21", "taxable": "-10.00", "vat": "-2.10"}],
    )
    InvoiceLine.objects.create(
        invoice=credit,
        position=1,
        kind=InvoiceLine.Kind.CREDIT,
        description="Correction of session on 20 November",
        unit_price_excl_vat=Decimal("-10"),
        amount_excl_vat=Decimal("-10.00"),
        vat_rate=Decimal("21"),
    )
    text = pdf_text(invoice_pdf(credit))
    assert "Creditnota" in text
    assert credit.number in text
    assert f"Deze creditnota corrigeert factuur {original.number} van 1 december 2026." in text
    assert "Totaal incl. btw € -12,10" in text
    assert "Vervaldatum" not in text  # nothing to pay


def test_an_unknown_language_gets_an_english_invoice() -> None:
    invoice = an_invoice_with_lines(a_driver(language="xx"), language="xx")
    text = pdf_text(invoice_pdf(invoice))
    assert "Total incl. VAT €1,449.04" in text
    assert "Issue date December 1, 2026" in text
    assert '<html lang="en">' in invoice_html(invoice)


def test_the_pdf_embeds_the_installed_font_and_weasyprint_warns_of_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A font the template names but the machine lacks is replaced silently by whatever fontconfig finds (which
    may lack the euro sign): the template names DejaVu Sans, which .ci/run and the Dockerfile install."""
    invoice = an_invoice_with_lines(a_driver())
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = invoice_pdf(invoice)
    reader = PdfReader(io.BytesIO(pdf))
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]
    # Where libharfbuzz-subset is missing, WeasyPrint subsets fonts with fontTools instead and says so.
    assert [w for w in warnings if "HarfBuzz-Subset" not in w] == []
    assert "€1,449.04" in pdf_text(pdf)
    fonts = {
        str(font["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].get_object().values()  # type: ignore[index]
    }
    assert fonts
    assert all("DejaVu-Sans" in name for name in fonts), fonts


def test_storing_keeps_the_first_document_and_a_late_render_adds_no_file() -> None:
    invoice = an_invoice_with_lines(a_driver())
    stale = Invoice.objects.get(pk=invoice.pk)  # loaded before the document existed, like a racing worker

    assert invoice_document_store(invoice=invoice) is True
    name = invoice.document.name
    assert name.startswith("invoices/")
    assert name.endswith(f"{invoice.number}.pdf")
    stored = Path(settings.MEDIA_ROOT) / name
    first = stored.read_bytes()
    assert "Total incl. VAT" in pdf_text(first)

    assert invoice_document_store(invoice=Invoice.objects.get(pk=invoice.pk)) is False
    assert invoice_document_store(invoice=stale) is False
    assert stale.document.name == name
    assert Invoice.objects.get(pk=invoice.pk).document.name == name
    assert stored.read_bytes() == first
    assert [p.name for p in stored.parent.iterdir() if invoice.number in p.name] == [stored.name]


def test_the_render_task_stores_the_documents_of_the_invoices_given() -> None:
    first, second = an_invoice_with_lines(a_driver()), an_invoice_with_lines(a_driver())
    assert invoice_documents_render_task.delay([first.pk, second.pk]).get() == 2
    assert all(invoice.document for invoice in Invoice.objects.filter(pk__in=[first.pk, second.pk]))
    assert invoice_documents_render_task.delay([first.pk, second.pk]).get() == 0


def _user(username: str, *, staff: bool, perms: tuple[str, ...] = ()) -> Any:
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw", is_staff=staff)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="billing", codename__in=perms))
    return user


def test_the_document_views_refuse_anyone_but_staff_who_may_view_invoices(client: Client) -> None:
    invoice = an_invoice_with_lines(a_driver())
    urls = [
        reverse("billing:invoice_document_html", args=[invoice.pk]),
        reverse("billing:invoice_document_pdf", args=[invoice.pk]),
    ]
    assert urls[0] == f"/admin/billing/invoice/{invoice.pk}/document.html"
    for url in urls:
        assert client.get(url).status_code == 302  # to the admin's login
    client.force_login(_user("driver", staff=False))
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    client.force_login(_user("clerk", staff=True))
    for url in urls:
        assert client.get(url).status_code == 403
    assert not Invoice.objects.get(pk=invoice.pk).document


def test_staff_get_the_page_and_the_pdf_which_is_stored_on_first_request(client: Client) -> None:
    invoice = an_invoice_with_lines(a_driver(language="nl"), language="nl")
    client.force_login(_user("finance", staff=True, perms=("view_invoice",)))

    page = client.get(reverse("billing:invoice_document_html", args=[invoice.pk]))
    assert page.status_code == 200
    assert "Totaal incl. btw" in page.content.decode()

    response = client.get(reverse("billing:invoice_document_pdf", args=[invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    assert "Totaal incl. btw € 1.449,04" in pdf_text(body)
    invoice.refresh_from_db()
    assert invoice.document
    assert (Path(settings.MEDIA_ROOT) / invoice.document.name).read_bytes() == body

    again = client.get(reverse("billing:invoice_document_pdf", args=[invoice.pk]))
    assert b"".join(again.streaming_content) == body  # type: ignore[attr-defined]
    assert client.get(reverse("billing:invoice_document_pdf", args=[invoice.pk + 1000])).status_code == 404


def test_the_admin_links_point_at_the_views() -> None:
    invoice = an_invoice(a_driver(), "12.10", issued_at=timezone.now())
    links = invoice_document_links(invoice)
    assert f'href="/admin/billing/invoice/{invoice.pk}/document.html"' in links
    assert f'href="/admin/billing/invoice/{invoice.pk}/document.pdf"' in links
    assert "not stored yet" in links
