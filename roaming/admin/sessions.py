"""Back office for charging sessions and CDRs."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link, cached_values
from roaming import selectors
from roaming.models import (
    LIVE_SESSION_STATUSES,
    Cdr,
    ChargingPreferencesRequest,
    ChargingSession,
)
from roaming.services.charging_preferences import PreferencesRefused, session_preferences_send


class LiveSessionFilter(admin.SimpleListFilter):
    title = "live"
    parameter_name = "live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Live (pending, active, reserved)"), ("no", "Ended")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(status__in=LIVE_SESSION_STATUSES)
        if self.value() == "no":
            return queryset.exclude(status__in=LIVE_SESSION_STATUSES)
        return queryset


def _money(excl_vat: Any, incl_vat: Any, currency: str) -> str:
    if excl_vat is None:
        return "-"
    text = f"{excl_vat.normalize():f} {currency}"
    return text + (f" ({incl_vat.normalize():f} incl. VAT)" if incl_vat is not None else "")


class PreferencesForm(forms.Form):
    profile_type = forms.ChoiceField(choices=ChargingPreferencesRequest.ProfileType.choices)
    departure_time = forms.DateTimeField(required=False, help_text="UTC, e.g. 2026-11-25 18:30.")
    energy_need = forms.DecimalField(
        required=False, min_value=0, max_digits=9, decimal_places=3, help_text="kWh needed by departure."
    )
    discharge_allowed = forms.BooleanField(required=False, help_text="The car may feed energy back (V2G).")


class PreferencesInline(admin.TabularInline[ChargingPreferencesRequest, ChargingSession]):
    model = ChargingPreferencesRequest
    extra = 0
    fields = (
        "created_at",
        "profile_type",
        "departure_time",
        "energy_need",
        "discharge_allowed",
        "state",
        "response",
        "error",
    )
    readonly_fields = fields
    can_delete = False
    verbose_name_plural = "charging preferences sent to the CPO"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ChargingSession)
class ChargingSessionAdmin(ReadOnlyAdmin):
    list_display = (
        "ocpi_id",
        "status",
        "driver_link",
        "location_link",
        "kwh",
        "cost",
        "start_date_time",
        "end_date_time",
        "party",
        "partner",
    )
    list_filter = (LiveSessionFilter, "status", "partner")
    search_fields = ("=ocpi_id", "=authorization_reference", "=token_uid", "=contract_id")
    list_select_related = ("driver__user", "location", "partner")
    paginator = CheapCountPaginator
    show_full_result_count = False
    ordering = ("-start_date_time",)  # index session_started
    readonly_fields = ("started_by", "charging_preferences")
    inlines = (PreferencesInline,)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.preferences_view)
        name = "roaming_chargingsession_preferences"
        return [path("<path:object_id>/charging-preferences/", view, name=name), *super().get_urls()]

    @admin.display(description="Started by command")
    def started_by(self, obj: ChargingSession) -> str:
        # Whatever the command's result said: a charger may start after a TIMEOUT or FAILED one.
        command = selectors.command_for_authorization_reference(obj.authorization_reference)
        return format_html("{} (result {})", admin_link(command), command.result or "pending") if command else "-"

    @admin.display(description="Charging preferences")
    def charging_preferences(self, obj: ChargingSession) -> str:
        current = selectors.preferences_in_force(obj)
        text = f"{current.profile_type} (accepted {current.answered_at:%Y-%m-%d %H:%M})" if current else "none accepted"
        if not obj.is_live:
            return text
        url = reverse("admin:roaming_chargingsession_preferences", args=[obj.pk])
        return format_html('{} · <a href="{}">Send charging preferences to the CPO</a>', text, url)

    def preferences_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Staff send a driver's charging preferences for a live session (e.g. on the phone with the driver)."""
        if not request.user.has_perm("roaming.add_chargingpreferencesrequest"):
            raise PermissionDenied
        session = get_object_or_404(ChargingSession.objects.select_related("partner", "token"), pk=object_id)
        default = session.token.default_profile_type if session.token else ""
        form = PreferencesForm(request.POST or None, initial={"profile_type": default or "REGULAR"})
        if request.method == "POST" and form.is_valid():
            try:
                sent = session_preferences_send(session, **form.cleaned_data)
            except PreferencesRefused as exc:
                form.add_error(None, exc.message)
            else:
                accepted = sent.response == ChargingPreferencesRequest.Response.ACCEPTED
                outcome = sent.response or sent.get_state_display()
                self.message_user(
                    request,
                    f"{session.ocpi_id}: the CPO answered {outcome}. {sent.error}".strip(),
                    messages.SUCCESS if accepted else messages.WARNING,
                )
                return HttpResponseRedirect(reverse("admin:roaming_chargingsession_change", args=[session.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "session": session,
            "title": f"Charging preferences for session {session.ocpi_id}",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/roaming/chargingsession/charging_preferences.html", context)

    @admin.display(description="Party")
    def party(self, obj: ChargingSession) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="Driver")
    def driver_link(self, obj: ChargingSession) -> str:
        return admin_link(obj.driver)

    @admin.display(description="Location")
    def location_link(self, obj: ChargingSession) -> str:
        return admin_link(obj.location) if obj.location else obj.ocpi_location_id

    @admin.display(description="Cost")
    def cost(self, obj: ChargingSession) -> str:
        return _money(obj.total_cost_excl_vat, obj.total_cost_incl_vat, obj.currency)


@admin.register(Cdr)
class CdrAdmin(ReadOnlyAdmin):
    list_display = (
        "ocpi_id",
        "party",
        "start_date_time",
        "driver_link",
        "session_link",
        "total_energy",
        "cost",
        "unknown_token",
        "credit",
        "received_at",
    )
    list_filter = ("unknown_token", "credit", ("currency", cached_values()), "partner")
    search_fields = (
        "=ocpi_id",
        "=ocpi_session_id",
        "=token_uid",
        "=contract_id",
        "=authorization_reference",
        "=credit_reference_id",
    )
    list_select_related = ("driver__user", "session", "partner")
    paginator = CheapCountPaginator  # CDRs accumulate for years
    show_full_result_count = False
    ordering = ("-received_at",)
    exclude = ("raw",)
    readonly_fields = ("raw_json",)

    @admin.display(description="Party")
    def party(self, obj: Cdr) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="Driver")
    def driver_link(self, obj: Cdr) -> str:
        return admin_link(obj.driver)

    @admin.display(description="Session")
    def session_link(self, obj: Cdr) -> str:
        return admin_link(obj.session) if obj.session else obj.ocpi_session_id or "-"

    @admin.display(description="Total cost")
    def cost(self, obj: Cdr) -> str:
        return _money(obj.total_cost_excl_vat, obj.total_cost_incl_vat, obj.currency)

    @admin.display(description="CDR as received")
    def raw_json(self, obj: Cdr) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.raw, indent=2, ensure_ascii=False))
