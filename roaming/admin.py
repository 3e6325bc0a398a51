"""Back office for roaming: onboard partners, watch the connection, read what was exchanged."""

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

from drivers.admin import TokenAdmin
from drivers.models import Token
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link
from emsp.lib.tasks import enqueue
from roaming import selectors
from roaming.models import (
    LIVE_SESSION_STATUSES,
    Authorization,
    Cdr,
    ChargingPreferencesRequest,
    ChargingSession,
    Command,
    Connector,
    Evse,
    EvseStatusChange,
    Location,
    OcpiRequestLog,
    Partner,
    PartnerEndpoint,
    PartnerRole,
    PriceComponent,
    SyncRun,
    Tariff,
    TariffElement,
    TokenPushCursor,
)
from roaming.services import partners as partner_services
from roaming.services.charging_preferences import PreferencesRefused, session_preferences_send
from roaming.services.partners import HandshakeError
from roaming.services.schedules import MODULES, RECORD_MODULES
from roaming.services.tokens import (
    token_changes_enqueue,
    token_push_cursor,
    token_push_partners,
    token_push_skip_head,
)
from roaming.tasks import push_tokens_task, sync_partner_task


class PartnerRoleInline(admin.TabularInline[PartnerRole, Partner]):
    model = PartnerRole
    extra = 0
    can_delete = False
    readonly_fields = ("role", "country_code", "party_id", "business_name", "business_website")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PartnerEndpointInline(admin.TabularInline[PartnerEndpoint, Partner]):
    model = PartnerEndpoint
    extra = 0
    can_delete = False
    readonly_fields = ("module", "role", "url")
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InviteForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The partner's name, for the back office.")


class RegisterForm(forms.Form):
    versions_url = forms.URLField(label="Partner versions URL", max_length=255, assume_scheme="https")
    token_a = forms.CharField(label="Token A from the partner", max_length=64)
    name = forms.CharField(max_length=100, required=False, help_text="Defaults to the partner's business name.")
    token_base64 = forms.BooleanField(required=False, initial=True, label="Send token base64-encoded (OCPI 2.2.1)")


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin[Partner]):
    list_display = ("name", "status", "parties", "version", "registered_at", "versions_url")
    list_filter = ("status", "version")
    search_fields = ("name", "versions_url", "roles__party_id")
    readonly_fields = ("status", "version", "versions_url", "registered_at", "created_at", "updated_at")
    fields = ("name", "token_base64", *readonly_fields)
    inlines = (PartnerRoleInline, PartnerEndpointInline)
    actions = ("sync_now", "full_sync_now", "rotate_token", "unregister", "new_invitation_token")
    change_list_template = "admin/roaming/partner/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description="Parties")
    def parties(self, obj: Partner) -> str:
        return ", ".join(f"{r.country_code}/{r.party_id} {r.role}" for r in obj.roles.all())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # partners come from an invitation or a registration, never from a blank form

    def get_urls(self) -> list[URLPattern]:
        return [
            path("invite/", self.admin_site.admin_view(self.invite_view), name="roaming_partner_invite"),
            path("register/", self.admin_site.admin_view(self.register_view), name="roaming_partner_register"),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        """A CPO will register with us: create it and show the versions URL and token A to send."""
        form = InviteForm(request.POST or None)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Invite a partner",
            "opts": self.model._meta,
        }
        if request.method == "POST" and form.is_valid():
            partner, token_a = partner_services.partner_invite(name=form.cleaned_data["name"])
            context.update(partner=partner, token_a=token_a, versions_url=partner_services.our_versions_url())
        return TemplateResponse(request, "admin/roaming/partner/invite.html", context)

    def register_view(self, request: HttpRequest) -> HttpResponse:
        """We register with a CPO that gave us its versions URL and a token A."""
        form = RegisterForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                partner = partner_services.register_with(
                    versions_url=form.cleaned_data["versions_url"],
                    token_a=form.cleaned_data["token_a"],
                    name=form.cleaned_data["name"],
                    base64_token=form.cleaned_data["token_base64"],
                )
            except HandshakeError as exc:
                form.add_error(None, f"Registration failed: {exc.message}")
            else:
                self.message_user(request, f"Registered with {partner} (OCPI {partner.version}).")
                return HttpResponseRedirect(reverse("admin:roaming_partner_change", args=[partner.pk]))
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Register with a partner",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/roaming/partner/register.html", context)

    def _each(self, request: HttpRequest, queryset: QuerySet[Partner], action: Any, done: str) -> None:
        for partner in queryset:
            try:
                action(partner=partner)
            except HandshakeError as exc:
                self.message_user(request, f"{partner}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{partner}: {done}")

    def _sync(self, request: HttpRequest, queryset: QuerySet[Partner], full: bool) -> None:
        for partner in queryset.filter(status=Partner.Status.REGISTERED):
            for module in (*MODULES, *RECORD_MODULES) if not full else MODULES:
                enqueue(sync_partner_task, partner.pk, str(module), full)
            self.message_user(
                request, f"{partner}: {'full' if full else 'incremental'} sync started; see Sync runs for progress."
            )

    @admin.action(description="Sync now (changes since the last sync)")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._sync(request, queryset, full=False)

    @admin.action(description="Full sync now (with removal detection)")
    def full_sync_now(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._sync(request, queryset, full=True)

    @admin.action(description="Rotate our credentials token")
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._each(request, queryset, partner_services.rotate_our_token, "tokens rotated, endpoints re-read")

    @admin.action(description="Unregister (credentials DELETE)")
    def unregister(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._each(request, queryset, partner_services.unregister, "unregistered")

    @admin.action(description="Issue a new invitation token (token A)")
    def new_invitation_token(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        for partner in queryset:
            token_a = partner_services.partner_new_invitation_token(partner=partner)
            self.message_user(
                request,
                format_html(
                    "{}: versions URL <code>{}</code>, token A <code>{}</code>",
                    partner,
                    partner_services.our_versions_url(),
                    token_a,
                ),
            )


@admin.register(OcpiRequestLog)
class OcpiRequestLogAdmin(admin.ModelAdmin[OcpiRequestLog]):
    list_display = (
        "created_at",
        "direction",
        "partner",
        "method",
        "module",
        "short_url",
        "http_status",
        "ocpi_status",
        "duration_ms",
    )
    list_filter = ("direction", "module", "method", "http_status", "ocpi_status", "partner")
    search_fields = ("=request_id", "=correlation_id", "url")
    list_select_related = ("partner",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in OcpiRequestLog._meta.fields]

    @admin.display(description="URL")
    def short_url(self, obj: OcpiRequestLog) -> str:
        return obj.url if len(obj.url) <= 80 else obj.url[:77] + "..."

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EvseInline(admin.TabularInline[Evse, Location]):
    model = Evse
    extra = 0
    fields = ("uid", "evse_id", "status", "capabilities", "last_updated", "removed_at")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Location)
class LocationAdmin(ReadOnlyAdmin):
    list_display = (
        "ocpi_id",
        "name",
        "city",
        "country",
        "party",
        "partner",
        "evse_count",
        "last_updated",
        "removed_at",
    )
    list_filter = ("partner", "country", "removed_at", "publish", "parking_type")
    search_fields = ("=ocpi_id", "name", "address", "city", "postal_code")
    list_select_related = ("partner",)
    show_full_result_count = False
    inlines = (EvseInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        from django.db.models import Count

        return super().get_queryset(request).annotate(evse_total=Count("evses"))

    @admin.display(description="Party")
    def party(self, obj: Location) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="EVSEs", ordering="evse_total")
    def evse_count(self, obj: Location) -> int:
        return obj.evse_total  # type: ignore[attr-defined]


class ConnectorInline(admin.TabularInline[Connector, Evse]):
    model = Connector
    extra = 0
    fields = (
        "ocpi_id",
        "standard",
        "format",
        "power_type",
        "max_voltage",
        "max_amperage",
        "max_electric_power",
        "tariff_ids",
        "last_updated",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class StatusChangeInline(admin.TabularInline[EvseStatusChange, Evse]):
    model = EvseStatusChange
    extra = 0
    fields = ("changed_at", "status")
    readonly_fields = fields
    ordering = ("-changed_at",)
    can_delete = False
    max_num = 0


@admin.register(Evse)
class EvseAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "status", "location", "last_updated", "removed_at")
    list_filter = ("status", "location__partner")
    search_fields = ("=uid", "=evse_id", "location__name")
    list_select_related = ("location",)
    show_full_result_count = False
    raw_id_fields = ("location",)
    inlines = (ConnectorInline, StatusChangeInline)


class PriceComponentInline(admin.TabularInline[PriceComponent, TariffElement]):
    model = PriceComponent
    extra = 0
    readonly_fields = ("type", "price", "vat", "step_size")
    fields = readonly_fields


@admin.register(Tariff)
class TariffAdmin(ReadOnlyAdmin):
    list_display = ("ocpi_id", "party", "currency", "type", "summary", "last_updated", "removed_at")
    list_filter = ("partner", "currency", "type", "removed_at")
    search_fields = ("=ocpi_id",)
    list_select_related = ("partner",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tariff]:
        return super().get_queryset(request).prefetch_related("elements__price_components")

    @admin.display(description="Party")
    def party(self, obj: Tariff) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="Prices (excl. VAT)")
    def summary(self, obj: Tariff) -> str:
        parts = []
        for element in obj.elements.all():
            for c in element.price_components.all():
                unit = {"ENERGY": "/kWh", "TIME": "/h", "PARKING_TIME": "/h parking"}.get(c.type, " flat")
                parts.append(f"{c.price.normalize()} {obj.currency}{unit}" + (" *" if element.restrictions else ""))
        return "; ".join(parts)


@admin.register(TariffElement)
class TariffElementAdmin(ReadOnlyAdmin):
    list_display = ("tariff", "position", "restrictions")
    inlines = (PriceComponentInline,)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "partner",
        "module",
        "mode",
        "status",
        "progress",
        "created",
        "updated",
        "unchanged",
        "removed",
        "invalid",
        "duration",
        "short_error",
    )
    list_filter = ("status", "module", "mode", "partner")
    list_select_related = ("partner",)

    @admin.display(description="Progress")
    def progress(self, obj: SyncRun) -> str:
        if obj.total_expected:
            return f"{obj.seen}/{obj.total_expected} ({obj.pages} pages)"
        return f"{obj.seen} ({obj.pages} pages)"

    @admin.display(description="Duration")
    def duration(self, obj: SyncRun) -> str:
        if not obj.finished_at:
            return "running"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="Error")
    def short_error(self, obj: SyncRun) -> str:
        return obj.error[:120]


# --- Tokens and commands ---------------------------------------------------------------------------------


@admin.register(TokenPushCursor)
class TokenPushCursorAdmin(ReadOnlyAdmin):
    """Per CPO: how many token changes it has not received yet, and why (the outbox of token pushes)."""

    list_display = (
        "partner",
        "pending",
        "last_change_id",
        "failures",
        "short_error",
        "last_attempt_at",
        "last_success_at",
        "next_attempt_at",
    )
    list_select_related = ("partner",)
    actions = ("push_now", "skip_refused_token")

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Every partner that takes our tokens is listed, also before its first push.
        for partner in token_push_partners():
            token_push_cursor(partner)
        return super().changelist_view(request, extra_context)

    @admin.display(description="Pending changes")
    def pending(self, obj: TokenPushCursor) -> int:
        return selectors.token_changes_pending(obj)

    @admin.display(description="Last error")
    def short_error(self, obj: TokenPushCursor) -> str:
        return obj.last_error[:120]

    @admin.action(description="Push pending token changes now")
    def push_now(self, request: HttpRequest, queryset: QuerySet[TokenPushCursor]) -> None:
        for cursor in queryset.select_related("partner"):
            enqueue(push_tokens_task, cursor.partner_id)
            self.message_user(request, f"{cursor.partner}: push started.")

    @admin.action(description="Skip the first pending token (one the CPO refuses; sent again at its next change)")
    def skip_refused_token(self, request: HttpRequest, queryset: QuerySet[TokenPushCursor]) -> None:
        for cursor in queryset.select_related("partner"):
            token = token_push_skip_head(partner=cursor.partner)
            if token is None:
                self.message_user(request, f"{cursor.partner}: nothing to skip.", messages.WARNING)
                continue
            enqueue(push_tokens_task, cursor.partner_id)
            self.message_user(request, f"{cursor.partner}: token {token} skipped; pushing the rest.")


class RoamingTokenAdmin(TokenAdmin):
    """The drivers' token admin, plus: every change staff make is pushed to every CPO at once. (`drivers`
    cannot call `roaming`; the periodic push would pick the change up within a minute anyway.)"""

    def _each(self, request: HttpRequest, queryset: QuerySet[Token], change: Any, done: str) -> None:
        super()._each(request, queryset, change, done)
        token_changes_enqueue()

    def save_model(self, request: HttpRequest, obj: Token, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        token_changes_enqueue()


admin.site.unregister(Token)
admin.site.register(Token, RoamingTokenAdmin)


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "reference", "allowed", "source", "token", "partner", "location_id")
    list_filter = ("allowed", "source", "partner")
    search_fields = ("=reference", "token__contract_id", "=token__uid", "=location_id")
    list_select_related = ("token", "partner")
    show_full_result_count = False
    date_hierarchy = "created_at"


@admin.register(Command)
class CommandAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "type",
        "partner",
        "state",
        "response",
        "result",
        "token",
        "location_id",
        "evse_uid",
        "session_id",
        "deadline",
    )
    list_filter = ("state", "type", "response", "result", "partner")
    search_fields = ("=reference", "=authorization_reference", "=session_id", "=location_id", "token__contract_id")
    list_select_related = ("token", "partner")
    show_full_result_count = False
    date_hierarchy = "created_at"


# --- Sessions and CDRs -----------------------------------------------------------------------------------


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
    show_full_result_count = False
    ordering = ("-start_date_time",)
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
    list_filter = ("unknown_token", "credit", "currency", "partner")
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
