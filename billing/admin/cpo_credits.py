"""Back office for our credit invoices to CPOs (reverse billing): the list, each invoice with its CDRs and the
delivery of its invoice reconciliation record, and the form that issues them (billing.cpo_credits)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from billing.cpo_credits import cpo_credit_invoices_issue
from billing.models import CpoCreditInvoice
from emsp.lib.admin import ReadOnlyAdmin, admin_link, when
from roaming.models import Partner


class IssueForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.order_by("name"))


@admin.register(CpoCreditInvoice)
class CpoCreditInvoiceAdmin(ReadOnlyAdmin):
    list_display = ("number", "partner", "issue_date", "currency", "total_excl_vat", "cdr_count", "delivered")
    list_filter = ("partner", "currency")
    list_select_related = ("partner", "record")
    search_fields = ("=number",)
    ordering = ("-issue_date", "-pk")
    fields = (
        "number",
        "partner",
        "issue_date",
        "currency",
        "total_excl_vat",
        "issued_by",
        "record_state",
        "credited_cdrs",
    )
    readonly_fields = fields
    change_list_template = "admin/billing/cpocreditinvoice/change_list.html"

    @admin.display(description="CDRs")
    def cdr_count(self, obj: CpoCreditInvoice) -> int:
        return len(obj.record.cdr_ids)

    @admin.display(description="record delivered", boolean=True)
    def delivered(self, obj: CpoCreditInvoice) -> bool:
        return obj.record.pushed_version == obj.record.last_updated

    @admin.display(description="Invoice reconciliation record")
    def record_state(self, obj: CpoCreditInvoice) -> SafeString:
        record = obj.record
        if record.pushed_version == record.last_updated:
            state = format_html("delivered (version {})", when(record.last_updated))
        elif record.push_error:
            state = format_html(
                "not delivered: {} failure(s), next try {}: {}",
                record.push_failures,
                when(record.next_push_at),
                record.push_error,
            )
        else:
            state = format_html("{}", "waiting to be pushed")
        return format_html("{}: {}", record.ocpi_id, state)

    @admin.display(description="Credited CDRs")
    def credited_cdrs(self, obj: CpoCreditInvoice) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (admin_link(line.cdr, line.cdr.ocpi_id), line.cpo_excl_vat, line.ours_excl_vat, line.credit_excl_vat)
                for line in obj.lines.select_related("cdr").order_by("pk")
            ),
        )
        return format_html(
            "<table><thead><tr><th>CDR</th><th>CPO excl. VAT</th><th>Ours excl. VAT</th><th>Credit</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.issue_view)
        return [path("issue/", view, name="billing_cpocreditinvoice_issue"), *super().get_urls()]

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("billing.issue_cpo_credit"):
            raise PermissionDenied
        form = IssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            partner = form.cleaned_data["partner"]
            issued = cpo_credit_invoices_issue(partner=partner, by=request.user)  # type: ignore[arg-type]
            if issued:
                self.message_user(request, f"Issued {', '.join(str(i) for i in issued)}; the CPO is told of each.")
            else:
                self.message_user(request, f"{partner} owes no credit: no CDR to credit.")
            return HttpResponseRedirect(reverse("admin:billing_cpocreditinvoice_changelist"))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Issue credit invoices to a CPO",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/billing/cpocreditinvoice/issue.html", context)
