"""Back-office views of invoice documents: the HTML page and the PDF, for staff who may view invoices.

Served under /admin/billing/invoice/<pk>/ (emsp/urls.py) beside the Invoice admin, never as public media.
"""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from billing.documents import invoice_document_store, invoice_html
from billing.models import Invoice


@staff_member_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_document_html(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("credited_invoice"), pk=pk)
    return HttpResponse(invoice_html(invoice))


@staff_member_required
@permission_required("billing.view_invoice", raise_exception=True)
def invoice_document_pdf(request: HttpRequest, pk: int) -> FileResponse:
    """The stored PDF; an invoice issued without one (e.g. its render task has not run yet) gets it now."""
    invoice = get_object_or_404(Invoice.objects.select_related("credited_invoice"), pk=pk)
    invoice_document_store(invoice=invoice)
    return FileResponse(
        invoice.document.open("rb"),
        content_type="application/pdf",
        as_attachment=True,
        filename=f"{invoice.number}.pdf",
    )
