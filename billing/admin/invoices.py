"""Back office for invoicing: the monthly runs (start one, follow its progress) and the issued invoices and
credit notes, read-only with their lines. Thin: a run is started by `invoice_run_start` (a Celery task after
commit), a correction is `credit_note_issue`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html

from billing.admin.documents import invoice_document_links
from billing.invoicing import (
    InvoicingError,
    billing_zone,
    credit_note_issue,
    invoice_run_start,
    period_check_ended,
    previous_period,
)
from billing.models import Invoice, InvoiceLine, InvoiceRun
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link


class StartRunForm(forms.Form):
    period = forms.DateField(
        input_formats=["%Y-%m"],
        help_text="The month to invoice, YYYY-MM.",
        widget=forms.DateInput(format="%Y-%m"),
    )

    def clean_period(self) -> Any:
        period = self.cleaned_data["period"]
        try:
            period_check_ended(period)
        except InvoicingError as exc:
            raise forms.ValidationError(str(exc)) from None
        return period


@admin.register(InvoiceRun)
class InvoiceRunAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "period", "status", "progress", "invoices_created", "started_at", "finished_at")
    list_filter = ("status", "period")
    readonly_fields = [f.name for f in InvoiceRun._meta.fields]
    ordering = ("-started_at",)
    change_list_template = "admin/billing/invoicerun/change_list.html"

    @admin.display(description="Drivers done")
    def progress(self, obj: InvoiceRun) -> str:
        return f"{obj.drivers_done} / {obj.drivers_total}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.start_view)
        return [path("start/", view, name="billing_invoicerun_start"), *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """Start the run of a month; the list then shows its progress."""
        if not request.user.has_perm("billing.run_invoicing"):
            raise PermissionDenied
        form = StartRunForm(
            request.POST or None, initial={"period": previous_period(timezone.now().astimezone(billing_zone()).date())}
        )
        if request.method == "POST" and form.is_valid():
            run = invoice_run_start(period=form.cleaned_data["period"], by=request.user)  # type: ignore[arg-type]
            self.message_user(request, f"{run} started; its progress shows below.")
            return HttpResponseRedirect(reverse("admin:billing_invoicerun_changelist"))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Start an invoice run",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/invoicerun/start.html", context)


class InvoiceLineInline(admin.TabularInline[InvoiceLine, Invoice]):
    model = InvoiceLine
    fields = (
        "position",
        "kind",
        "description",
        "supplied_on",
        "location",
        "energy_kwh",
        "duration_hours",
        "quantity",
        "unit_price_excl_vat",
        "amount_excl_vat",
        "vat_rate",
        "charge",
        "cdr",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceLine]:
        return super().get_queryset(request).select_related("charge__cdr__session")

    @admin.display(description="CDR and session")
    def cdr(self, obj: InvoiceLine) -> str:
        """The line's CDR and the session it records, one click away (a session line only)."""
        if obj.charge is None:
            return "-"
        cdr = obj.charge.cdr
        return format_html("{} · {}", admin_link(cdr), admin_link(cdr.session) if cdr.session else "no session")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "kind",
        "driver_link",
        "period",
        "issue_date",
        "total_incl_vat",
        "currency",
        "status",
        "documents",
    )
    list_filter = ("kind", "status", "period")
    search_fields = ("number", "driver__user__email")
    list_select_related = ("driver__user",)
    readonly_fields = ["documents", *(f.name for f in Invoice._meta.fields)]
    raw_id_fields = ("driver", "credited_invoice", "run")
    inlines = (InvoiceLineInline,)
    actions = ("issue_credit_note",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    ordering = ("-issued_at",)

    @admin.display(description="Driver", ordering="driver")
    def driver_link(self, obj: Invoice) -> str:
        return admin_link(obj.driver)

    @admin.display(description="Document")
    def documents(self, obj: Invoice) -> str:
        return invoice_document_links(obj)

    @admin.action(description="Issue a credit note cancelling the invoice", permissions=["credit"])
    def issue_credit_note(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset:
            try:
                note = credit_note_issue(invoice=invoice, by=request.user, reason="cancelled in the back office")  # type: ignore[arg-type]
            except InvoicingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{note} cancels {invoice}.")

    def has_credit_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.issue_credit_note")
