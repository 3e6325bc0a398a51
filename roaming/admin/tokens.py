"""Back office for tokens at the CPOs: the push outbox per partner, authorizations and commands."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse

from drivers.admin import TokenAdmin
from drivers.models import Token
from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin
from emsp.lib.tasks import enqueue
from roaming import selectors
from roaming.models import (
    Authorization,
    Command,
    TokenPushCursor,
)
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
    paginator = CheapCountPaginator
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
    paginator = CheapCountPaginator
    show_full_result_count = False
    date_hierarchy = "created_at"
