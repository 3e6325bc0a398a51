"""Invoice documents in the back office, included by emsp/urls.py under admin/billing/invoice/<pk>/."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("document.html", views.invoice_document_html, name="invoice_document_html"),
    path("document.pdf", views.invoice_document_pdf, name="invoice_document_pdf"),
]
