"""Back office for tokens at the CPOs: the push outbox per partner, authorizations and commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from drivers.admin import TokenAdmin
from drivers.models import Token
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin, admin_link, changelist_link, one_line, when
from emsp.lib.tasks import enqueue
from roaming import selectors
from roaming.admin.related import CardDriverFilter, links, object_links, related_first, request_log_link
from roaming.models import (
    Authorization,
    Cdr,
    ChargingSession,
    Command,
    TokenPushCursor,
)
from roaming.selectors_tokens import tokens_at_cpos
from roaming.services.tokens import (
    token_changes_enqueue,
    token_push_cursor,
    token_push_partners,
    token_push_skip_head,
)
from roaming.tasks import push_tokens_task


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[TokenPushCursor]:
        pending = selectors.token_changes_pending_count(OuterRef("last_change_id"))
        return super().get_queryset(request).annotate(pending_changes=pending)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        # Every partner that takes our tokens is listed, also before its first push.
        for partner in token_push_partners():
            token_push_cursor(partner)
        return super().changelist_view(request, extra_context)

    @admin.display(description="Pending changes", ordering="pending_changes")
    def pending(self, obj: TokenPushCursor) -> int:
        return obj.pending_changes  # type: ignore[attr-defined]

    @admin.display(description="Last error")
    def short_error(self, obj: TokenPushCursor) -> str:
        return obj.last_error[:120]

    @admin.action(description="Push pending token changes now")
    def push_now(self, request: HttpRequest, queryset: QuerySet[TokenPushCursor]) -> None:
        for cursor in queryset.select_related("partner"):
            enqueue(push_tokens_task, cursor.partner_id)
            self.message_user(request, f"{cursor.partner}: push started.")

    def has_skip_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("roaming.change_tokenpushcursor")

    @admin.action(
        description="Skip the first pending token (one the CPO refuses; sent again at its next change)",
        permissions=["skip"],
    )
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

    def get_readonly_fields(self, request: HttpRequest, obj: Token | None = None) -> tuple[str, ...]:
        return (*super().get_readonly_fields(request, obj), "at_the_cpos", "roaming")

    @admin.display(description="At the CPOs")
    def at_the_cpos(self, obj: Token) -> str:
        """Has each CPO received the card's latest change? (If not, it still decides by an older state.)"""
        if obj.pk is None:
            return "-"
        rows = tokens_at_cpos([obj.pk])[obj.pk]
        if not rows:
            return "No CPO takes our tokens."
        return format_html_join(
            "",
            "<div>{}: {} (last push {})</div>",
            ((admin_link(row.partner), row.state, when(row.since)) for row in rows),
        )

    @admin.display(description="Roaming")
    def roaming(self, obj: Token) -> str:
        if obj.pk is None:
            return "-"
        return links(
            ("Sessions", changelist_link(ChargingSession, "this card's sessions", token__id__exact=obj.pk)),
            ("CDRs", changelist_link(Cdr, "this card's CDRs", token__id__exact=obj.pk)),
            ("Authorizations", changelist_link(Authorization, "this card's authorizations", token__id__exact=obj.pk)),
            ("Commands", changelist_link(Command, "commands for this card", token__id__exact=obj.pk)),
        )


admin.site.unregister(Token)
admin.site.register(Token, RoamingTokenAdmin)


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdmin):
    list_display = (
        "created",
        "reference_short",
        "allowed",
        "reason",
        "origin",
        "card",
        "partner",
        "location_id",
        "session",
    )
    list_filter = (CardDriverFilter, "reason", "allowed", "source", "partner")
    search_fields = ("=reference", "token__contract_id", "=token_uid", "=location_id")
    list_select_related = ("token", "partner")
    paginator = CheapCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
    readonly_fields = ("related",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return related_first(super().get_fields(request, obj))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Authorization]:
        # The session each authorization started, for the list's column: one subquery on the reference index.
        started = ChargingSession.objects.filter(authorization_reference=OuterRef("reference")).values("pk")[:1]
        return super().get_queryset(request).annotate(session_pk=Subquery(started))

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Authorization) -> str:
        return when(obj.created_at)

    @admin.display(description="Reference", ordering="reference")
    def reference_short(self, obj: Authorization) -> str:
        return one_line(obj.reference, 12)

    @admin.display(description="Source", ordering="source")
    def origin(self, obj: Authorization) -> str:
        return one_line(obj.source, 10, title=obj.get_source_display())

    @admin.display(description="Card")
    def card(self, obj: Authorization) -> str:
        """Our token, or the uid and type the CPO asked about when we do not know it."""
        if obj.token is None:
            return one_line(f"{obj.token_uid} ({obj.token_type}, unknown)", 24)
        return admin_link(obj.token, one_line(obj.token.visual_number or obj.token.uid, 16, title=str(obj.token)))

    @admin.display(description="Session")
    def session(self, obj: Authorization) -> str:
        pk = getattr(obj, "session_pk", None)
        if pk is None:
            return "-"
        url = reverse("admin:roaming_chargingsession_change", args=[pk])
        return format_html('<a href="{}">session</a>', url)

    @admin.display(description="Related")
    def related(self, obj: Authorization) -> str:
        sessions = [*ChargingSession.objects.filter(authorization_reference=obj.reference)[:5]]
        # CDRs come after the authorization: the partner's recent CDRs (cdr_partner_updated), not all of them.
        cdrs = [
            *Cdr.objects.filter(
                partner_id=obj.partner_id,
                last_updated__gte=obj.created_at - timedelta(hours=1),
                authorization_reference=obj.reference,
            )[:5]
        ]
        return links(
            ("Driver", admin_link(obj.token.driver) if obj.token else ""),
            ("Card", admin_link(obj.token)),
            ("Session", object_links(sessions)),
            ("CDR", object_links(cdrs)),
            ("Command", admin_link(selectors.command_for_authorization_reference(obj.reference))),
            ("Request log", request_log_link(obj, "the exchanges about this authorization")),
        )


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
    list_filter = (CardDriverFilter, "state", "type", "response", "result", "partner")
    search_fields = ("=reference", "=authorization_reference", "=session_id", "=location_id", "token__contract_id")
    list_select_related = ("token", "partner")
    paginator = CheapCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
