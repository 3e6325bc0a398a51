"""Back office for drivers and their cards: block, unblock, report lost (each pushed to every CPO)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from emsp.lib.admin import CheapCountPaginator

from . import services
from .accounts import AccountError, driver_erase
from .models import Driver, Token, TokenChange


class TokenInline(admin.TabularInline[Token, Driver]):
    model = Token
    extra = 0
    fields = ("contract_id", "type", "uid", "visual_number", "status", "whitelist", "last_updated")
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Driver)
class DriverAdmin(SimpleHistoryAdmin):
    list_display = ("__str__", "user", "standing", "credit_limit", "outstanding", "created_at")
    list_filter = ("standing",)
    search_fields = (
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
        "tokens__contract_id",
        "tokens__visual_number",
    )
    raw_id_fields = ("user",)
    readonly_fields = ("outstanding", "uninvoiced", "erased_at", "created_at")  # derived, or set by a service
    paginator = CheapCountPaginator
    show_full_result_count = False
    inlines = (TokenInline,)
    actions = ("erase",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # invoices, payments and CDRs point at the driver: erase the account instead

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("drivers.erase_driver")

    @admin.action(description="Close the account and erase personal data", permissions=["erase"])
    def erase(self, request: HttpRequest, queryset: QuerySet[Driver]) -> None:
        for driver in queryset:
            try:
                driver_erase(driver=driver)
            except AccountError as exc:
                self.message_user(request, f"{driver}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Driver #{driver.pk}: account closed, personal data erased.")

    def save_model(self, request: HttpRequest, obj: Driver, form: Any, change: bool) -> None:
        # The standing goes through the service, which tells every CPO (the tokens' `valid` follows it).
        standing, obj.standing = obj.standing, form.initial.get("standing", Driver.Standing.GOOD)
        super().save_model(request, obj, form, change)
        obj.standing = services.driver_set_standing(driver=obj, standing=standing).standing


@admin.register(Token)
class TokenAdmin(SimpleHistoryAdmin):
    list_display = ("contract_id", "type", "uid", "visual_number", "driver", "status", "whitelist", "last_updated")
    list_filter = ("status", "type", "whitelist")
    search_fields = ("=uid", "contract_id", "visual_number", "driver__user__email")
    list_select_related = ("driver__user",)
    raw_id_fields = ("driver",)
    readonly_fields = ("contract_id", "status", "last_updated", "created_at")
    paginator = CheapCountPaginator
    show_full_result_count = False
    actions = ("activate", "block", "unblock", "report_lost")

    def get_readonly_fields(self, request: HttpRequest, obj: Token | None = None) -> tuple[str, ...]:
        # A token is its (uid, type) at every CPO: another card is another token, never an edit.
        fixed = ("uid", "type", "driver") if obj is not None else ()
        return (*self.readonly_fields, *fixed)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"issuer": settings.OCPI_BUSINESS_NAME, **super().get_changeform_initial_data(request)}

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a card that must not charge is blocked (CPOs are told); sessions and CDRs name it

    def has_block_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("drivers.block_token")

    def save_model(self, request: HttpRequest, obj: Token, form: Any, change: bool) -> None:
        # Through the service: a new token needs its eMAID, and CPOs must hear of every edit.
        services.token_save(token=obj)

    def _each(self, request: HttpRequest, queryset: QuerySet[Token], change: Callable[..., Token], done: str) -> None:
        for token in queryset:
            try:
                change(token=token)
            except services.TokenStateError as exc:
                self.message_user(request, f"{token}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{token}: {done}; every connected CPO will be told.")

    @admin.action(description="Activate (an issued card the driver has received)", permissions=["block"])
    def activate(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        self._each(request, queryset, services.token_activate, "activated")

    @admin.action(description="Block (refuse charging everywhere)", permissions=["block"])
    def block(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        self._each(request, queryset, services.token_block, "blocked")

    @admin.action(description="Unblock", permissions=["block"])
    def unblock(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        self._each(request, queryset, services.token_unblock, "unblocked")

    @admin.action(description="Report lost or stolen", permissions=["block"])
    def report_lost(self, request: HttpRequest, queryset: QuerySet[Token]) -> None:
        self._each(request, queryset, services.token_report_lost, "reported lost")


@admin.register(TokenChange)
class TokenChangeAdmin(admin.ModelAdmin[TokenChange]):
    list_display = ("pk", "token", "reason", "created_at")
    list_select_related = ("token",)
    readonly_fields = ("token", "reason", "created_at")
    paginator = CheapCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # append-only
