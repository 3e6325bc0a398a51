"""Invoice documents: the HTML page and the PDF (WeasyPrint) of an invoice or credit note, and storing the PDF.

Both come from one template, `templates/billing/invoice.html`, in the invoice's language, with amounts, numbers
and dates formatted by Babel for that language and the invoice's currency. What the template shows is what
EU VAT Directive art. 226 asks of an invoice (`../shared/billing-facts.md`). Everything shown is read from the
invoice as issued (the customer's name and address were copied onto it); only the payment instructions look at
the driver's mandate, which is why the PDF is rendered once, at issue, and kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent
from django.conf import settings
from django.core.files.base import ContentFile
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from billing.models import Invoice, InvoiceLine, Mandate

logger = logging.getLogger(__name__)

#: Languages an invoice can be written in: each has its labels in locale/<code>/LC_MESSAGES/django.po (English
#: is the template's own). Any other language gets an English invoice, labels and formats alike.
LANGUAGES = ("en", "nl")
FALLBACK_LANGUAGE = "en"

HUNDRED = Decimal(100)


def document_language(language: str) -> str:
    """The language the invoice is written in: its own if we have its labels, else English."""
    language = language.lower()
    return language if language in LANGUAGES else FALLBACK_LANGUAGE


@dataclass(frozen=True)
class Formats:
    """Babel's formats for one language and currency (e.g. nl: "€ 1.234,50", "22,5", "1 november 2026")."""

    language: str
    currency: str

    def money(self, amount: Decimal) -> str:
        """An amount rounded to the currency's minor unit (as on the invoice)."""
        return format_currency(amount, self.currency, locale=self.language)

    def unit_price(self, amount: Decimal) -> str:
        """A unit price: its own decimals (up to 4, e.g. 0.3512 per kWh), at least the currency's."""
        return format_currency(amount.normalize(), self.currency, locale=self.language, decimal_quantization=False)

    def number(self, value: Decimal | None) -> str:
        """Up to 3 decimals, e.g. 22.5 (kWh)."""
        return "" if value is None else format_decimal(value, locale=self.language)

    def percent(self, rate: Decimal | str) -> str:
        """A VAT rate given in percent: 21 -> "21%", 25.5 -> "25,5%" (nl)."""
        return format_percent(Decimal(rate) / HUNDRED, locale=self.language, decimal_quantization=False)

    def day(self, value: date | None, style: str = "long") -> str:
        return "" if value is None else format_date(value, style, locale=self.language)

    def month(self, value: date | None) -> str:
        return "" if value is None else format_date(value, "LLLL y", locale=self.language)


def hours_minutes(hours: Decimal | None) -> str:
    """A duration as h:mm (1.5 -> "1:30"), the same in every language."""
    if hours is None:
        return ""
    minutes = int((hours * 60).to_integral_value())
    return f"{minutes // 60}:{minutes % 60:02d}"


def iban_grouped(iban: str) -> str:
    """An IBAN in groups of four, as printed on paper."""
    compact = iban.replace(" ", "").upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def iban_masked(iban: str) -> str:
    """Country, check digits and the last four characters only: enough for the driver to recognise the account."""
    compact = iban.replace(" ", "").upper()
    return f"{compact[:4]} **** **** {compact[-4:]}"


def _line_row(line: InvoiceLine, formats: Formats) -> dict[str, Any]:
    session = line.kind == InvoiceLine.Kind.SESSION
    return {
        "kind": line.kind,
        "session": session,
        "date": formats.day(line.supplied_on, "medium"),
        "description": (line.location or line.description) if session else line.description,
        "energy": formats.number(line.energy_kwh),
        "duration": hours_minutes(line.duration_hours),
        "quantity": "" if session or line.quantity == 1 else formats.number(line.quantity),
        "unit_price": formats.unit_price(line.unit_price_excl_vat),
        "amount": formats.money(line.amount_excl_vat),
        "vat_rate": formats.percent(line.vat_rate),
    }


def invoice_context(invoice: Invoice) -> dict[str, Any]:
    """What the template shows, formatted for the invoice's language and currency."""
    language = document_language(invoice.language)
    formats = Formats(language, invoice.currency)
    company = settings.BILLING_COMPANY
    mandate = (
        Mandate.objects.filter(driver_id=invoice.driver_id, status=Mandate.Status.ACTIVE).first()
        if invoice.kind == Invoice.Kind.INVOICE
        else None
    )
    vat_summary = [
        {
            "rate": formats.percent(row["rate"]),
            "taxable": formats.money(Decimal(row["taxable"])),
            "vat": formats.money(Decimal(row["vat"])),
            "total": formats.money(Decimal(row["taxable"]) + Decimal(row["vat"])),
        }
        for row in invoice.vat_summary
    ]
    credited = invoice.credited_invoice
    return {
        "language": language,
        "invoice": invoice,
        "credit_note": invoice.kind == Invoice.Kind.CREDIT_NOTE,
        "credited_number": credited.number if credited else "",
        "credited_issue_date": formats.day(credited.issue_date) if credited else "",
        "company": company | {"address_lines": company["address"].splitlines(), "iban": iban_grouped(company["iban"])},
        "customer_address_lines": invoice.customer_address.splitlines(),
        "issue_date": formats.day(invoice.issue_date),
        "due_date": formats.day(invoice.due_date),
        "period": formats.month(invoice.period),
        "lines": [_line_row(line, formats) for line in invoice.lines.order_by("position")],
        "vat_summary": vat_summary,
        "total_excl_vat": formats.money(invoice.total_excl_vat),
        "total_vat": formats.money(invoice.total_vat),
        "total_incl_vat": formats.money(invoice.total_incl_vat),
        "mandate": (
            {"reference": mandate.reference, "iban": iban_masked(mandate.iban)} if mandate is not None else None
        ),
    }


def invoice_html(invoice: Invoice) -> str:
    """The invoice as a standalone HTML page (styles inline), in the invoice's language."""
    context = invoice_context(invoice)
    with translation.override(context["language"]):
        return render_to_string("billing/invoice.html", context)


def invoice_pdf(invoice: Invoice) -> bytes:
    """The invoice as an A4 PDF: the same page as `invoice_html`, laid out by WeasyPrint with its print CSS."""
    # Imported here: WeasyPrint loads Pango and fontconfig, which web requests that never render a PDF don't need.
    from weasyprint import HTML

    pdf = HTML(string=invoice_html(invoice)).write_pdf()
    assert pdf is not None  # write_pdf returns bytes when given no target
    return pdf


def invoice_document_store(*, invoice: Invoice) -> bool:
    """Render the invoice's PDF and keep it in `Invoice.document`, once: the document is the invoice as sent, so
    an existing one is never replaced (it is the one field of an issued invoice set after issue). Returns
    whether this call stored it."""
    if invoice.document:
        return False
    content = ContentFile(invoice_pdf(invoice))
    field = invoice.document
    name = field.storage.save(field.field.generate_filename(invoice, f"{invoice.number}.pdf"), content)
    # Whoever stores first wins; a render that lost a race removes its file.
    stored = Invoice.objects.filter(pk=invoice.pk, document="").update(document=name)
    if not stored:
        field.storage.delete(name)
        invoice.refresh_from_db(fields=["document"])
        return False
    invoice.document.name = name
    return True


def invoice_documents_store(*, invoice_ids: Iterable[int]) -> int:
    """Store the PDFs of these invoices that have none yet; how many were rendered."""
    stored = 0
    for invoice in Invoice.objects.filter(pk__in=list(invoice_ids), document="").order_by("pk"):
        stored += invoice_document_store(invoice=invoice)
    return stored


def invoice_document_urls(invoice: Invoice) -> dict[str, str]:
    """The back office's URLs of the invoice's HTML page and PDF (for links in the admin)."""
    return {
        "html": reverse("billing:invoice_document_html", args=[invoice.pk]),
        "pdf": reverse("billing:invoice_document_pdf", args=[invoice.pk]),
    }
