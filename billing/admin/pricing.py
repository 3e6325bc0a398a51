"""Back office for billing: our CDR prices, the disputes with CPOs, decisions and the finance export.

Thin: every change goes through billing.services (`dispute_decide`, `cdrs_price`); reads through
billing.selectors. Deciding a dispute needs `billing.decide_dispute`, the export `billing.export_finance`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from billing import selectors
from billing.models import CdrPrice, Dispute, DisputeEvent
from billing.services import DecisionError, cdrs_price, dispute_decide
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link
from roaming.models import Partner

DECISIONS = (
    (Dispute.Status.CPO_ACCEPTED, "Accept the CPO's price"),
    (Dispute.Status.OURS_ACCEPTED, "Accept our price"),
    (Dispute.Status.RESOLVED, "Resolve otherwise (say how in the note)"),
)


def _figure(value: Any) -> str:
    return "-" if value is None else f"{value.normalize():f}" if hasattr(value, "normalize") else str(value)


def side_by_side_table(cdr: Any, price: CdrPrice | None) -> SafeString:
    """The CPO's figures and ours per dimension (excl. VAT unless named), with the difference."""
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (dimension, _figure(cpo), _figure(ours), _figure(diff))
            for dimension, cpo, ours, diff in selectors.side_by_side(cdr, price)
        ),
    )
    return format_html(
        '<table class="side-by-side"><thead><tr><th>{}</th><th>CPO ({})</th><th>Ours</th><th>CPO - ours</th></tr>'
        "</thead><tbody>{}</tbody></table>",
        "Dimension",
        cdr.currency,
        rows,
    )


def _when(value: str) -> str:
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S")


def breakdown_table(price: CdrPrice | None) -> SafeString:
    """Our breakdown, one line per priced part: which element and component, when, how much, at what price."""
    if price is None or not price.lines:
        return format_html("{}", "-")
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                line["kind"],
                line["tariff_id"],
                "-" if line["element"] is None else line["element"] + 1,
                (line["dimension"] or "-") + (" (reservation)" if line["reservation"] else ""),
                "-" if line["period"] is None else line["period"] + 1,
                _when(line["start"]),
                _when(line["end"]),
                _figure(_decimal(line["volume"])),
                _figure(_decimal(line["unit_price"])),
                "-" if line["vat"] is None else f"{line['vat']} %",
                _figure(_decimal(line["excl_vat"])),
                _figure(_decimal(line["incl_vat"])),
            )
            for line in price.lines
        ),
    )
    return format_html(
        '<table class="breakdown"><thead><tr><th>Kind</th><th>Tariff</th><th>Element</th><th>Component</th>'
        "<th>Period</th><th>Part (UTC)</th><th>Volume (kWh / h)</th><th>Unit price</th><th>VAT</th>"
        "<th>Excl. VAT</th><th>Incl. VAT</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


class MonthFilter(admin.SimpleListFilter):
    """The month the CDR's session started (UTC), as finance counts it."""

    title = "month"
    parameter_name = "month"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        months = model_admin.get_queryset(request).dates("cdr__start_date_time", "month", order="DESC")[:24]
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        try:
            start, end = selectors.month_bounds(*selectors.parse_month(self.value() or ""))
        except ValueError:
            return queryset.none()
        return queryset.filter(cdr__start_date_time__gte=start, cdr__start_date_time__lt=end)


class DisputeEventInline(admin.TabularInline[DisputeEvent, Dispute]):
    model = DisputeEvent
    extra = 0
    can_delete = False
    fields = ("at", "status", "user", "note")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(choices=DECISIONS)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ExportForm(forms.Form):
    partner = forms.ModelChoiceField(queryset=Partner.objects.order_by("name"))
    month = forms.CharField(help_text="e.g. 2026-11", max_length=7)

    def clean_month(self) -> tuple[int, int]:
        try:
            return selectors.parse_month(self.cleaned_data["month"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Dispute)
class DisputeAdmin(SimpleHistoryAdmin):
    list_display = ("cdr_link", "partner", "status", "at_stake", "dimensions", "opened_at", "decided_by")
    list_display_links = ("at_stake",)  # cdr_link is a link itself: the row link around it came out empty
    list_filter = ("status", "partner", MonthFilter)
    list_select_related = ("cdr", "partner", "decided_by")
    search_fields = ("=cdr__ocpi_id",)
    ordering = ("-opened_at",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    actions = ("accept_cpo", "accept_ours")
    inlines = (DisputeEventInline,)
    fields = (
        "cdr_link",
        "partner",
        "status",
        "at_stake",
        "figures",
        "breakdown",
        "note",
        "decided_by",
        "decided_at",
        "opened_at",
    )
    readonly_fields = fields
    change_list_template = "admin/billing/dispute/change_list.html"
    change_form_template = "admin/billing/dispute/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # disputes are opened by reconciliation

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the record of a dispute is kept

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("billing.decide_dispute")  # every field is read-only: a change is a decision

    @admin.display(description="CDR", ordering="cdr__ocpi_id")
    def cdr_link(self, obj: Dispute) -> str:
        return admin_link(obj.cdr)

    @admin.display(description="At stake (CPO - ours)", ordering="amount_at_stake")
    def at_stake(self, obj: Dispute) -> str:
        return f"{obj.amount_at_stake.normalize():f} {obj.currency}"

    @admin.display(description="Differences")
    def dimensions(self, obj: Dispute) -> str:
        return ", ".join(d["dimension"] for d in obj.differences)

    @admin.display(description="CPO's figures and ours")
    def figures(self, obj: Dispute) -> SafeString:
        return side_by_side_table(obj.cdr, CdrPrice.objects.filter(cdr=obj.cdr).first())

    @admin.display(description="Our breakdown")
    def breakdown(self, obj: Dispute) -> SafeString:
        return breakdown_table(CdrPrice.objects.filter(cdr=obj.cdr).first())

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "open_by_partner": selectors.disputes_open_by_partner(),
            "export_form": ExportForm(),
            "export_url": reverse("admin:billing_dispute_export"),
        }
        return super().changelist_view(request, extra_context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {
            **(extra_context or {}),
            "decision_form": DecisionForm(),
            "decide_url": reverse("admin:billing_dispute_decide", args=[object_id]),
            "can_decide": self.has_change_permission(request),
            "decided": Dispute.objects.filter(pk=object_id).exclude(status=Dispute.Status.OPEN).exists(),
            # Every field is read-only: the decision form below is the only way to change a dispute.
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self) -> list[URLPattern]:
        return [
            path("export/", self.admin_site.admin_view(self.export_view), name="billing_dispute_export"),
            path("<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name="billing_dispute_decide"),
            *super().get_urls(),
        ]

    def decide_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        dispute = get_object_or_404(Dispute, pk=pk)
        form = DecisionForm(request.POST)
        if form.is_valid():
            try:
                dispute_decide(
                    dispute=dispute,
                    outcome=form.cleaned_data["outcome"],
                    user=request.user,  # type: ignore[arg-type]
                    note=form.cleaned_data["note"],
                )
            except DecisionError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"{dispute.cdr}: {Dispute.Status(form.cleaned_data['outcome']).label}.")
        else:
            self.message_user(request, "Choose a decision.", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:billing_dispute_change", args=[pk]))

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """A partner's CDRs of a month with both prices, as CSV for finance (streamed: months are big)."""
        if not request.user.has_perm("billing.export_finance"):
            raise PermissionDenied
        form = ExportForm(request.GET)
        if not form.is_valid():
            self.message_user(request, f"Export: {form.errors.as_text()}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:billing_dispute_changelist"))
        partner = form.cleaned_data["partner"]
        year, month = form.cleaned_data["month"]
        response = StreamingHttpResponse(
            selectors.csv_lines(selectors.cdr_price_rows(partner, year, month)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="cdrs-{partner.pk}-{year}-{month:02d}.csv"'
        return response

    def _decide_all(self, request: HttpRequest, queryset: QuerySet[Dispute], outcome: str) -> None:
        for dispute in queryset:
            dispute_decide(dispute=dispute, outcome=outcome, user=request.user)  # type: ignore[arg-type]
        self.message_user(request, f"{queryset.count()} dispute(s): {outcome}")

    @admin.action(description="Accept the CPO's price", permissions=["change"])
    def accept_cpo(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._decide_all(request, queryset, Dispute.Status.CPO_ACCEPTED)

    @admin.action(description="Accept our price", permissions=["change"])
    def accept_ours(self, request: HttpRequest, queryset: QuerySet[Dispute]) -> None:
        self._decide_all(request, queryset, Dispute.Status.OURS_ACCEPTED)


@admin.register(CdrPrice)
class CdrPriceAdmin(ReadOnlyAdmin):
    list_display = ("cdr_link", "partner", "status", "ours", "cpo", "source", "tariff_ocpi_id", "reason", "priced_at")
    list_display_links = ("ours",)  # the first column links to the CDR
    list_filter = ("status", "waiting_for", "source", "cdr__partner")
    list_select_related = ("cdr__partner",)
    search_fields = ("=cdr__ocpi_id", "=tariff_ocpi_id")
    paginator = CheapCountPaginator  # one per CDR
    show_full_result_count = False
    ordering = ("-cdr",)  # newest CDRs first, by the key: sorting 100,000 prices by priced_at took 0.3 s
    actions = ("price_again",)
    fields = (
        "cdr_link", "status", "reason", "waiting_for", "waiting_id", "source", "tariff", "tariff_ocpi_id",
        "tariff_last_updated", "figures", "breakdown", "warnings", "priced_at",
    )  # fmt: skip
    readonly_fields = fields

    @admin.display(description="CDR", ordering="cdr__ocpi_id")
    def cdr_link(self, obj: CdrPrice) -> str:
        return admin_link(obj.cdr)

    @admin.display(description="Partner")
    def partner(self, obj: CdrPrice) -> str:
        return str(obj.cdr.partner)

    @admin.display(description="Ours (excl. VAT)")
    def ours(self, obj: CdrPrice) -> str:
        return "-" if obj.total_excl_vat is None else f"{obj.total_excl_vat.normalize():f} {obj.currency}"

    @admin.display(description="CPO (excl. VAT)")
    def cpo(self, obj: CdrPrice) -> str:
        return f"{obj.cdr.total_cost_excl_vat.normalize():f} {obj.cdr.currency}"

    @admin.display(description="CPO's figures and ours")
    def figures(self, obj: CdrPrice) -> SafeString:
        return side_by_side_table(obj.cdr, obj)

    @admin.display(description="Our breakdown")
    def breakdown(self, obj: CdrPrice) -> SafeString:
        return breakdown_table(obj)

    def has_reprice_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_cdrprice")

    @admin.action(description="Price again (and reconcile)", permissions=["reprice"])
    def price_again(self, request: HttpRequest, queryset: QuerySet[CdrPrice]) -> None:
        result = cdrs_price(cdr_ids=list(queryset.values_list("cdr_id", flat=True)))
        self.message_user(
            request, f"Priced {result.priced}, unpriced {result.unpriced}, disputes opened {result.disputes_opened}."
        )
