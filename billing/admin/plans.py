"""Back office for retail plans: plans with their price rules, who is on which plan, the session charges, and a
"try the price" page. Thin: plan changes go through `plan_subscribe`, prices through `price_estimate`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from simple_history.admin import SimpleHistoryAdmin

from billing.charges import PlanError, plan_subscribe
from billing.estimates import EstimateError, price_estimate
from billing.models import PlanPriceRule, PlanSubscription, RetailPlan, SessionCharge
from drivers.models import Driver
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin
from roaming.models import Connector


class PlanPriceRuleInline(admin.TabularInline[PlanPriceRule, RetailPlan]):
    model = PlanPriceRule
    extra = 0
    raw_id_fields = ("partner",)


@admin.register(RetailPlan)
class RetailPlanAdmin(SimpleHistoryAdmin):
    list_display = (
        "name",
        "basis",
        "currency",
        "markup_percent",
        "session_fee",
        "monthly_fee",
        "available",
        "is_default",
    )
    list_filter = ("basis", "available")
    inlines = (PlanPriceRuleInline,)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # charged sessions keep the plan they were charged under: make it unavailable instead

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.try_price_view)
        return [path("try-price/", view, name="billing_retailplan_try_price"), *super().get_urls()]

    def try_price_view(self, request: HttpRequest) -> HttpResponse:
        form = TryPriceForm(request.POST or None)
        context: dict[str, Any] = {**self.admin_site.each_context(request), "title": "Try the price", "form": form}
        if request.method == "POST" and form.is_valid():
            try:
                context["estimate"] = price_estimate(
                    connector=form.cleaned_data["connector"],
                    driver=form.cleaned_data["driver"],
                    energy_kwh=form.cleaned_data["energy_kwh"],
                    duration=_minutes(form.cleaned_data["minutes"]),
                    parking=_minutes(form.cleaned_data["parking_minutes"]) or timedelta(0),
                )
            except EstimateError as exc:
                context["error"] = str(exc)
        return TemplateResponse(request, "admin/billing/retailplan/try_price.html", context)


def _minutes(value: int | None) -> timedelta | None:
    return None if value is None else timedelta(minutes=value)


class TryPriceForm(forms.Form):
    connector_id = forms.IntegerField(required=False, help_text="Our connector's id, or give the EVSE id below.")
    evse_id = forms.CharField(required=False, help_text="e.g. NL*ABC*E123 (its first connector).")
    driver_id = forms.IntegerField(help_text="The driver's id.")
    energy_kwh = forms.DecimalField(required=False, help_text="Empty: the power class's default.")
    minutes = forms.IntegerField(required=False, min_value=1, help_text="Charging time; empty: the default.")
    parking_minutes = forms.IntegerField(required=False, min_value=0, help_text="Parked after charging.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        connectors = Connector.objects.select_related("evse__location")
        if data.get("connector_id"):
            data["connector"] = connectors.filter(pk=data["connector_id"]).first()
        elif data.get("evse_id"):
            data["connector"] = connectors.filter(evse__evse_id=data["evse_id"]).order_by("pk").first()
        if not data.get("connector"):
            raise forms.ValidationError("No such connector.")
        data["driver"] = Driver.objects.filter(pk=data.get("driver_id") or 0).first()
        if data["driver"] is None:
            raise forms.ValidationError("No such driver.")
        return data


class PlanSubscriptionForm(forms.ModelForm[PlanSubscription]):
    class Meta:
        model = PlanSubscription
        fields = ("driver", "plan", "valid_from")


@admin.register(PlanSubscription)
class PlanSubscriptionAdmin(admin.ModelAdmin[PlanSubscription]):
    """Who is on which plan. Adding one puts the driver on the plan through `plan_subscribe` (the current
    spell ends); spells are never edited, so that charged sessions keep the plan they were charged under."""

    form = PlanSubscriptionForm
    list_display = ("driver", "plan", "valid_from", "valid_until", "created_by")
    list_filter = ("plan",)
    list_select_related = ("driver__user", "plan", "created_by")
    raw_id_fields = ("driver",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    search_fields = ("driver__user__username", "driver__user__email")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PlanSubscription, form: Any, change: bool) -> None:
        try:
            saved = plan_subscribe(driver=obj.driver, plan=obj.plan, at=obj.valid_from, by=request.user)  # type: ignore[arg-type]
        except PlanError as exc:
            raise forms.ValidationError(str(exc)) from exc
        obj.pk = saved.pk


@admin.register(SessionCharge)
class SessionChargeAdmin(ReadOnlyAdmin):
    list_display = ("cdr_id", "driver", "session_start", "amount_excl_vat", "vat_rate", "currency", "plan", "invoiced")
    list_filter = ("plan", ("invoice", admin.EmptyFieldListFilter))
    list_select_related = ("driver__user", "plan")
    raw_id_fields = ("driver", "cdr", "invoice", "credits")
    search_fields = ("driver__user__username",)
    date_hierarchy = "session_start"
    paginator = CheapCountPaginator
    show_full_result_count = False

    @admin.display(boolean=True)
    def invoiced(self, obj: SessionCharge) -> bool:
        return obj.invoice_id is not None
