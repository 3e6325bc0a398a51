"""Back office for charging sessions and CDRs."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from emsp.lib.admin import (
    CheapCountPaginator,
    ReadOnlyAdmin,
    admin_link,
    cached_values,
    changelist_link,
    json_block,
    one_line,
    when,
)
from roaming import selectors
from roaming.admin.anomalies import CdrAnomalyFilter, SessionAnomalyFilter
from roaming.admin.related import filter_link, links, object_links, related_first, request_log_link
from roaming.models import (
    LIVE_SESSION_STATUSES,
    Authorization,
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


def _short_money(excl_vat: Any, incl_vat: Any, currency: str) -> str:
    """A list cell: excl. VAT to the cent, the exact figures on hover."""
    if excl_vat is None:
        return "-"
    return format_html(
        '<span style="white-space:nowrap" title="{}">{}</span>',
        _money(excl_vat, incl_vat, currency),
        f"{excl_vat:.2f} {currency}",
    )


def _driver_cell(obj: ChargingSession | Cdr, rows: str) -> str:
    """The driver (to their page) and a link narrowing the list to their rows."""
    if obj.driver is None:
        return "-"
    return format_html(
        '<span style="white-space:nowrap">{}{}</span>',
        admin_link(obj.driver, one_line(obj.driver, 18)),
        filter_link(f"Only {obj.driver}'s {rows}", driver__id__exact=obj.driver_id),
    )


def _kwh(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


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
        "session_id",
        "status",
        "driver_link",
        "location_link",
        "energy",
        "cost",
        "started",
        "ended",
        "partner",
        "cdr_links",
    )
    list_filter = (
        LiveSessionFilter,
        SessionAnomalyFilter,
        "status",
        ("start_date_time", admin.DateFieldListFilter),
        "partner",
    )
    search_fields = ("=ocpi_id", "=authorization_reference", "=token_uid", "=contract_id")
    list_select_related = ("driver__user", "location", "partner")
    paginator = CheapCountPaginator
    show_full_result_count = False
    ordering = ("-start_date_time",)  # index session_started
    exclude = ("charging_periods", "extra")
    readonly_fields = ("related", "started_by", "charging_preferences", "periods", "extra_fields")
    inlines = (PreferencesInline,)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj))

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChargingSession]:
        cdrs = Cdr.objects.only("pk", "session_id", "country_code", "party_id", "ocpi_id", "credit").order_by("pk")
        return super().get_queryset(request).prefetch_related(Prefetch("cdrs", queryset=cdrs))

    @admin.display(description="Session", ordering="ocpi_id")
    def session_id(self, obj: ChargingSession) -> str:
        return one_line(obj.ocpi_id, 14, title=str(obj))

    @admin.display(description="kWh", ordering="kwh")
    def energy(self, obj: ChargingSession) -> str:
        return _kwh(obj.kwh)

    @admin.display(description="Started", ordering="start_date_time")
    def started(self, obj: ChargingSession) -> str:
        return when(obj.start_date_time)

    @admin.display(description="Ended", ordering="end_date_time")
    def ended(self, obj: ChargingSession) -> str:
        return when(obj.end_date_time)

    @admin.display(description="CDR")
    def cdr_links(self, obj: ChargingSession) -> str:
        return object_links([*obj.cdrs.all()])

    @admin.display(description="Related")
    def related(self, obj: ChargingSession) -> str:
        authorization = selectors.authorization_for_reference(obj.authorization_reference)
        return links(
            ("Driver", admin_link(obj.driver)),
            ("Card", admin_link(obj.token) if obj.token else obj.token_uid),
            ("Location", admin_link(obj.location) if obj.location else obj.ocpi_location_id),
            ("Authorization", admin_link(authorization) if authorization else obj.authorization_reference),
            ("CDRs", object_links([*obj.cdrs.all()])),
            ("Request log", request_log_link(obj, "the exchanges about this session")),
            (
                "Sessions of this card",
                changelist_link(ChargingSession, "all", token__id__exact=obj.token_id) if obj.token_id else "",
            ),
        )

    @admin.display(description="Charging periods")
    def periods(self, obj: ChargingSession) -> str:
        return json_block(obj.charging_periods, f"{len(obj.charging_periods)} charging periods")

    @admin.display(description="Other fields as sent")
    def extra_fields(self, obj: ChargingSession) -> str:
        return json_block(obj.extra)

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

    @admin.display(description="Driver")
    def driver_link(self, obj: ChargingSession) -> str:
        return _driver_cell(obj, "sessions")

    @admin.display(description="Location")
    def location_link(self, obj: ChargingSession) -> str:
        if obj.location:
            return admin_link(obj.location, one_line(obj.location.name or obj.location.ocpi_id, 22))
        return one_line(obj.ocpi_location_id)

    @admin.display(description="Cost")
    def cost(self, obj: ChargingSession) -> str:
        return _short_money(obj.total_cost_excl_vat, obj.total_cost_incl_vat, obj.currency)


@admin.register(Cdr)
class CdrAdmin(ReadOnlyAdmin):
    list_display = (
        "cdr_id",
        "started",
        "driver_link",
        "session_link",
        "energy",
        "cost",
        "unknown",
        "partner",
        "received",
    )
    list_filter = (
        CdrAnomalyFilter,
        "unknown_token",
        "credit",
        ("start_date_time", admin.DateFieldListFilter),
        ("currency", cached_values()),
        "partner",
    )
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
    exclude = ("raw", "charging_periods", "cdr_location", "tariffs")
    readonly_fields = ("related", "periods", "location_json", "tariffs_json", "raw_json")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj))

    @admin.display(description="CDR", ordering="ocpi_id")
    def cdr_id(self, obj: Cdr) -> str:
        """The CPO's id (the party on hover); a credit CDR says so (rare: no column of its own)."""
        return one_line(obj.ocpi_id + (" (credit)" if obj.credit else ""), 14, title=str(obj))

    @admin.display(description="kWh", ordering="total_energy")
    def energy(self, obj: Cdr) -> str:
        return _kwh(obj.total_energy)

    @admin.display(description="Unknown", boolean=True, ordering="unknown_token")
    def unknown(self, obj: Cdr) -> bool:
        return obj.unknown_token

    @admin.display(description="Started", ordering="start_date_time")
    def started(self, obj: Cdr) -> str:
        return when(obj.start_date_time)

    @admin.display(description="Received", ordering="received_at")
    def received(self, obj: Cdr) -> str:
        return when(obj.received_at)

    @admin.display(description="Driver")
    def driver_link(self, obj: Cdr) -> str:
        return _driver_cell(obj, "CDRs")

    @admin.display(description="Session")
    def session_link(self, obj: Cdr) -> str:
        if obj.session:
            return admin_link(obj.session, one_line(obj.session.ocpi_id, 14))
        return one_line(obj.ocpi_session_id or "-", 14)

    @admin.display(description="CPO's price")
    def cost(self, obj: Cdr) -> str:
        return _short_money(obj.total_cost_excl_vat, obj.total_cost_incl_vat, obj.currency)

    @admin.display(description="Related")
    def related(self, obj: Cdr) -> str:
        authorization = (
            Authorization.objects.filter(reference=obj.authorization_reference).first()
            if obj.authorization_reference
            else None
        )
        return links(
            ("Driver", admin_link(obj.driver)),
            ("Card", admin_link(obj.token) if obj.token else f"{obj.token_uid} (not ours)"),
            ("Session", admin_link(obj.session) if obj.session else obj.ocpi_session_id),
            ("Authorization", admin_link(authorization) if authorization else obj.authorization_reference),
            ("Location", admin_link(obj.location) if obj.location else ""),
            ("Credits this CDR", admin_link(obj.credit_for) if obj.credit_for else ""),
            ("Credited by", object_links([*obj.credits.all()])),
            ("Request log", request_log_link(obj, "the exchanges about this CDR")),
        )

    @admin.display(description="Charging periods")
    def periods(self, obj: Cdr) -> str:
        return json_block(obj.charging_periods, f"{len(obj.charging_periods)} charging periods")

    @admin.display(description="Location (at session start)")
    def location_json(self, obj: Cdr) -> str:
        return json_block(obj.cdr_location)

    @admin.display(description="Tariffs (as sent)")
    def tariffs_json(self, obj: Cdr) -> str:
        return json_block(obj.tariffs, f"{len(obj.tariffs)} tariffs")

    @admin.display(description="CDR as received")
    def raw_json(self, obj: Cdr) -> str:
        return json_block(obj.raw, "the whole CDR as the CPO sent it")
