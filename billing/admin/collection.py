"""Collection in the admin: mandates (validated by the service), collection batches (create one for a due
date, download its pain.008 file), payments (record a bank transfer, mark debits returned, finance exports)
and the reminders dunning sent (read-only). Every write goes through `billing.collection`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from billing import collection, exports, selectors
from billing.models import CollectionBatch, Fee, Mandate, Payment, Reminder
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link
from roaming.models import Partner

# --- mandates --------------------------------------------------------------------------------------------


class MandateForm(forms.ModelForm[Mandate]):
    reference = forms.CharField(max_length=35, required=False, help_text="Empty: one is made up.")
    bic = forms.CharField(label="BIC", max_length=11, required=False, help_text="Empty: derived from the IBAN.")

    class Meta:
        model = Mandate
        fields = ("driver", "debtor_name", "iban", "bic", "signed_on", "reference")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            checked = collection.mandate_check(
                driver=data["driver"],
                iban=data["iban"],
                bic=data.get("bic") or "",
                debtor_name=data["debtor_name"],
                signed_on=data["signed_on"],
                reference=data.get("reference") or None,
            )
            data.update(checked)
        except collection.MandateError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data

    def validate_unique(self) -> None:
        """`mandate_check` checks the reference; the rest is the service's (one active mandate per driver)."""


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin[Mandate]):
    form = MandateForm
    list_display = ("reference", "driver", "debtor_name", "iban", "bic", "status", "signed_on", "last_collected_on")
    list_filter = ("status",)
    list_select_related = ("driver__user",)
    search_fields = ("=reference", "iban", "debtor_name")
    paginator = CheapCountPaginator
    show_full_result_count = False
    raw_id_fields = ("driver",)
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: Mandate | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (*MandateForm.Meta.fields, "status", "revoked_on", "last_collected_on", "created_at")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # kept 14 months after the last collection

    def save_model(self, request: HttpRequest, obj: Mandate, form: Any, change: bool) -> None:
        if change:
            return  # a mandate is not edited: revoke it and record the new one
        data = form.cleaned_data
        created = collection.mandate_create(**{k: data[k] for k in MandateForm.Meta.fields})
        obj.__dict__.update(created.__dict__)  # the admin logs and redirects to `obj`

    @admin.action(description="Revoke the selected mandates", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Mandate]) -> None:
        for mandate in queryset:
            collection.mandate_revoke(mandate=mandate)
        self.message_user(request, f"{queryset.count()} mandate(s) revoked.")


# --- collection batches ----------------------------------------------------------------------------------


class BatchForm(forms.Form):
    due_date = forms.DateField(help_text="The collection date (YYYY-MM-DD).")


@admin.register(CollectionBatch)
class CollectionBatchAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "due_date", "count", "total", "currency", "created_at", "created_by", "download")
    list_select_related = ("created_by",)
    date_hierarchy = "due_date"
    exclude = ("xml",)
    readonly_fields = ("download",)
    change_list_template = "admin/billing/collectionbatch/change_list.html"

    @admin.display(description="pain.008")
    def download(self, obj: CollectionBatch) -> str:
        url = reverse("admin:billing_collectionbatch_xml", args=[obj.pk])
        return format_html('<a href="{}">{}.xml</a>', url, obj.message_id)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("create/", self.admin_site.admin_view(self.create_view), name="billing_collectionbatch_create"),
            path("<int:pk>/xml/", self.admin_site.admin_view(self.xml_view), name="billing_collectionbatch_xml"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "batch_form": BatchForm(initial={"due_date": collection.earliest_due_date()}),
            "create_url": reverse("admin:billing_collectionbatch_create"),
        }
        return super().changelist_view(request, extra_context)

    def create_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST" or not request.user.has_perm("billing.add_collectionbatch"):
            raise PermissionDenied
        form = BatchForm(request.POST)
        if not form.is_valid():
            self.message_user(request, f"Batch: {form.errors.as_text()}", messages.ERROR)
        else:
            try:
                batch = collection.collection_batch_create(
                    due_date=form.cleaned_data["due_date"],
                    by=request.user,  # type: ignore[arg-type]
                )
            except collection.CollectionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{batch}: download the file and upload it to the bank.")
        return HttpResponseRedirect(reverse("admin:billing_collectionbatch_changelist"))

    def xml_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(CollectionBatch, pk=pk)
        response = HttpResponse(batch.xml, content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{batch.message_id}.xml"'
        return response


# --- payments --------------------------------------------------------------------------------------------


class PaymentForm(forms.ModelForm[Payment]):
    """A payment recorded by hand: mostly a bank transfer."""

    class Meta:
        model = Payment
        fields = ("invoice", "amount", "method", "received_on", "reference")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            try:
                collection.payment_check(invoice=data["invoice"], amount=data["amount"], method=data["method"])
            except collection.CollectionError as exc:
                self.add_error("amount", str(exc))
        return data


class ReturnActionForm(ActionForm):
    reason = forms.CharField(max_length=4, required=False, help_text="For 'mark returned': AC04, AM04, MD06, ...")
    returned_on = forms.DateField(required=False, help_text="Empty: today.")


class ExportForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind, kind) for kind in exports.KINDS])
    period = forms.CharField(max_length=7, help_text="e.g. 2026-10")
    partner = forms.ModelChoiceField(
        queryset=Partner.objects.order_by("name"), required=False, help_text="Payables only; empty: all."
    )

    def clean_period(self) -> tuple[int, int]:
        try:
            return selectors.parse_month(self.cleaned_data["period"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin[Payment]):
    form = PaymentForm
    action_form = ReturnActionForm
    list_display = ("received_on", "invoice_link", "amount", "currency", "method", "status", "return_reason", "batch")
    list_filter = ("status", "method", "received_on")
    list_select_related = ("invoice", "batch")
    search_fields = ("=invoice__number", "reference")
    paginator = CheapCountPaginator
    show_full_result_count = False
    raw_id_fields = ("invoice",)
    actions = ("mark_returned",)
    change_list_template = "admin/billing/payment/change_list.html"

    @admin.display(description="Invoice", ordering="invoice__number")
    def invoice_link(self, obj: Payment) -> str:
        return admin_link(obj.invoice)

    def get_readonly_fields(self, request: HttpRequest, obj: Payment | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return (*PaymentForm.Meta.fields, "currency", "status", "return_reason", "returned_on", "batch", "mandate")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a payment that did not happen is returned, not deleted

    def save_model(self, request: HttpRequest, obj: Payment, form: Any, change: bool) -> None:
        if change:
            return  # payments are not edited
        fields = {name: form.cleaned_data[name] for name in PaymentForm.Meta.fields}
        created = collection.payment_record(**fields, by=request.user)  # type: ignore[arg-type]
        obj.__dict__.update(created.__dict__)

    @admin.action(description="Mark returned by the bank (give the reason code)", permissions=["change"])
    def mark_returned(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        reason = request.POST.get("reason", "")
        returned_on = forms.DateField(required=False).clean(request.POST.get("returned_on") or None)
        done = 0
        for payment in queryset:
            try:
                collection.payment_return(payment=payment, reason=reason, returned_on=returned_on)
            except collection.CollectionError as exc:
                self.message_user(request, f"Payment {payment.pk}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} payment(s) marked returned ({reason.upper()}); invoices re-opened.")

    def get_urls(self) -> list[URLPattern]:
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="billing_payment_export"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "export_form": ExportForm(initial={"period": f"{collection.billing_today():%Y-%m}"}),
            "export_url": reverse("admin:billing_payment_export"),
        }
        return super().changelist_view(request, extra_context)

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """Finance's CSV exports (`billing.exports`), streamed: a month of invoices or CDRs is big."""
        if not request.user.has_perm("billing.export_finance"):
            raise PermissionDenied
        form = ExportForm(request.GET)
        if not form.is_valid():
            self.message_user(request, f"Export: {form.errors.as_text()}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:billing_payment_changelist"))
        kind, (year, month) = form.cleaned_data["kind"], form.cleaned_data["period"]
        export = exports.finance_export(kind, year, month, partner=form.cleaned_data["partner"])
        response = StreamingHttpResponse(selectors.csv_lines(export.rows, export.columns), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{kind}-{year}-{month:02d}.csv"'
        return response


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "level", "sent_at", "email", "fee")
    list_filter = ("level",)
    list_select_related = ("invoice",)
    search_fields = ("=invoice__number", "email")
    paginator = CheapCountPaginator
    show_full_result_count = False


@admin.register(Fee)
class FeeAdmin(ReadOnlyAdmin):
    """Fees passed on to drivers (reminders, returned debits): each goes on the driver's next invoice, once."""

    list_display = ("incurred_on", "driver", "kind", "amount", "currency", "for_invoice", "invoice")
    list_filter = ("kind", "incurred_on")
    list_select_related = ("driver__user", "for_invoice", "invoice")
    paginator = CheapCountPaginator
    show_full_result_count = False
    search_fields = ("=for_invoice__number", "=invoice__number", "driver__user__email")
    raw_id_fields = ("driver", "for_invoice", "invoice", "reminder", "payment")
