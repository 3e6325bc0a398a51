"""Links to an invoice's documents, for the Invoice admin (its change page and list)."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

from billing.documents import invoice_document_urls
from billing.models import Invoice


def invoice_document_links(invoice: Invoice) -> SafeString:
    """ "HTML · PDF": the page opens in the browser, the PDF downloads (rendered and stored on first request)."""
    urls = invoice_document_urls(invoice)
    stored = "" if invoice.document else " (not stored yet)"
    return format_html(
        '<a href="{}" target="_blank">HTML</a> · <a href="{}">PDF</a>{}', urls["html"], urls["pdf"], stored
    )
