"""Back office for partners: invite, register, sync, rotate; what was exchanged with them and how syncs went."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from simple_history.admin import SimpleHistoryAdmin

from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, changelist_link, fixed_values, json_block, one_line, when
from emsp.lib.tasks import enqueue
from roaming.admin.related import REQUEST_LOG_FILTERS, links, object_links, related_first
from roaming.models import (
    Authorization,
    Cdr,
    ChargingSession,
    Command,
    Location,
    OcpiRequestLog,
    Partner,
    PartnerEndpoint,
    PartnerRole,
    SyncRun,
    Tariff,
    TokenPushCursor,
)
from roaming.models.requestlog import REQUEST_FAILED
from roaming.ocpi.v2_2_1.versions import ModuleID
from roaming.selectors_requestlog import request_log_subjects
from roaming.services import partners as partner_services
from roaming.services.partners import HandshakeError, first_pull_plan
from roaming.services.schedules import MODULES, RECORD_MODULES
from roaming.tasks import sync_partner_task


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
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ("name", "status", "parties", "version", "registered_at", "versions_url")
    list_filter = ("status", "version")
    search_fields = ("name", "versions_url", "roles__party_id")
    readonly_fields = ("status", "version", "versions_url", "registered_at", "created_at", "updated_at", "related")
    fields = ("name", "token_base64", *readonly_fields)
    inlines = (PartnerRoleInline, PartnerEndpointInline)
    actions = ("sync_now", "full_sync_now", "rotate_token", "unregister", "new_invitation_token")
    change_list_template = "admin/roaming/partner/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description="Parties")
    def parties(self, obj: Partner) -> str:
        return ", ".join(f"{r.country_code}/{r.party_id} {r.role}" for r in obj.roles.all())

    @admin.display(description="Related")
    def related(self, obj: Partner) -> str:
        """Everything of this partner, each a filtered list."""
        if obj.pk is None:
            return "-"
        mine = {"partner__id__exact": obj.pk}
        return links(
            ("Locations", changelist_link(Location, "locations", **mine)),
            ("Tariffs", changelist_link(Tariff, "tariffs", **mine)),
            ("Sessions", changelist_link(ChargingSession, "sessions", **mine)),
            ("CDRs", changelist_link(Cdr, "CDRs", **mine)),
            ("Authorizations", changelist_link(Authorization, "authorizations", **mine)),
            ("Commands", changelist_link(Command, "commands", **mine)),
            ("Request log", changelist_link(OcpiRequestLog, "request log", **mine)),
            ("Sync runs", changelist_link(SyncRun, "sync runs", **mine)),
            ("Token push", changelist_link(TokenPushCursor, "token push", **mine)),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # partners come from an invitation or a registration, never from a blank form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what they sent us is evidence: unregister the partner instead

    def get_urls(self) -> list[URLPattern]:
        return [
            path("invite/", self.admin_site.admin_view(self.invite_view), name="roaming_partner_invite"),
            path("register/", self.admin_site.admin_view(self.register_view), name="roaming_partner_register"),
            *super().get_urls(),
        ]

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        """A CPO will register with us: create it and show the versions URL and token A to send."""
        if not request.user.has_perm("roaming.add_partner"):
            raise PermissionDenied
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
        if not request.user.has_perm("roaming.add_partner"):
            raise PermissionDenied
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
                self.message_user(
                    request, f"Registered with {partner} (OCPI {partner.version}). {first_pull_plan(partner=partner)}"
                )
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

    @admin.action(description="Sync now (changes since the last sync)", permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._sync(request, queryset, full=False)

    @admin.action(description="Full sync now (with removal detection)", permissions=["change"])
    def full_sync_now(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._sync(request, queryset, full=True)

    @admin.action(description="Rotate our credentials token", permissions=["change"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._each(request, queryset, partner_services.rotate_our_token, "tokens rotated, endpoints re-read")

    @admin.action(description="Unregister (credentials DELETE)", permissions=["change"])
    def unregister(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._each(request, queryset, partner_services.unregister, "unregistered")

    @admin.action(description="Issue a new invitation token (token A)", permissions=["change"])
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


class RequestOutcomeFilter(admin.SimpleListFilter):
    """Failed exchanges (no answer, HTTP error or OCPI error): what the start page's error rate counts."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("failed", "Failed"), ("ok", "Succeeded")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "failed":
            return queryset.filter(REQUEST_FAILED)
        if self.value() == "ok":
            return queryset.exclude(REQUEST_FAILED)
        return queryset


@admin.register(OcpiRequestLog)
class OcpiRequestLogAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        "direction",
        "partner",
        "method",
        "module",
        "short_url",
        "http_status",
        "ocpi_status",
        "duration_ms",
    )
    # The values offered are given: reading them from a million rows (SELECT DISTINCT) took 0.5 s a filter.
    list_filter = (
        RequestOutcomeFilter,
        *REQUEST_LOG_FILTERS,
        "direction",
        ("module", fixed_values("versions", *ModuleID)),
        ("method", fixed_values("GET", "POST", "PUT", "PATCH", "DELETE")),
        ("http_status", fixed_values(200, 201, 400, 401, 403, 404, 405, 413, 415, 429, 500, 502, 503, 504)),
        ("ocpi_status", fixed_values(1000, 2000, 2001, 2002, 2003, 2004, 3000, 3001, 3002, 3003, 3004, 4000, 4001)),
        "partner",
    )
    search_fields = ("=request_id", "=correlation_id", "url")
    list_select_related = ("partner",)
    paginator = CheapCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
    exclude = ("request_body", "response_body")
    readonly_fields = [
        "about",
        *(f.name for f in OcpiRequestLog._meta.fields if f.name not in ("request_body", "response_body")),
        "request",
        "response",
    ]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj), "about")

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: OcpiRequestLog) -> str:
        return when(obj.created_at)

    @admin.display(description="URL")
    def short_url(self, obj: OcpiRequestLog) -> str:
        return one_line(obj.url, 70)

    @admin.display(description="About")
    def about(self, obj: OcpiRequestLog) -> str:
        """The session, CDR, authorization or command the exchange was about, as its URL and bodies tell."""
        return object_links(request_log_subjects(obj))

    @admin.display(description="Request body")
    def request(self, obj: OcpiRequestLog) -> str:
        return json_block(obj.request_body, open=True)

    @admin.display(description="Response body")
    def response(self, obj: OcpiRequestLog) -> str:
        return json_block(obj.response_body, open=True)


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
        "short_notes",
    )
    list_filter = ("status", "module", "mode", "partner")
    list_select_related = ("partner",)
    paginator = CheapCountPaginator  # every module of every partner, every few minutes
    show_full_result_count = False
    exclude = ("resume_keys",)  # every key a failed full run listed: machine state, up to megabytes

    def get_queryset(self, request: HttpRequest) -> QuerySet[SyncRun]:
        return super().get_queryset(request).defer("resume_keys")

    @admin.display(description="Progress")
    def progress(self, obj: SyncRun) -> str:
        start = f" from offset {obj.start_offset}" if obj.start_offset else ""
        if obj.total_expected:
            return f"{obj.seen}/{obj.total_expected}{start} ({obj.pages} pages)"
        return f"{obj.seen}{start} ({obj.pages} pages)"

    @admin.display(description="Duration")
    def duration(self, obj: SyncRun) -> str:
        if not obj.finished_at:
            return "running"
        return f"{(obj.finished_at - obj.started_at).total_seconds():.1f} s"

    @admin.display(description="Error")
    def short_error(self, obj: SyncRun) -> str:
        return obj.error[:120]

    @admin.display(description="Notes")
    def short_notes(self, obj: SyncRun) -> SafeString:
        """Offset paging where the partner's Link failed us, a resume: one line each, the detail page has them whole."""
        return one_line(obj.notes.replace("\n", "; "), 160)
