"""Back office for the platform's own tables."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from emsp.lib.admin import CheapCountPaginator, ReadOnlyAdmin
from emsp.lib.tasks import outbox_sweep
from emsp.models import OutboxTask


@admin.register(OutboxTask)
class OutboxTaskAdmin(ReadOnlyAdmin):
    """Tasks the broker has not taken yet. Normally empty: a row that stays, with its attempts and last
    error, is work stuck behind a broker that is down (the sweeper tries every minute)."""

    list_display = ("task", "args", "kwargs", "run_after", "attempts", "short_error", "claimed_until", "created_at")
    list_filter = ("task",)
    ordering = ("run_after",)
    actions = ("send_now",)

    @admin.display(description="Last error")
    def short_error(self, obj: OutboxTask) -> str:
        return obj.last_error[:120]

    @admin.action(description="Send now (without a broker: run now, in this request)")
    def send_now(self, request: HttpRequest, queryset: QuerySet[OutboxTask]) -> None:
        outcome = outbox_sweep(ids=list(queryset.values_list("pk", flat=True)))
        if outcome.error:
            self.message_user(
                request, f"{outcome.sent} sent; the broker did not take the rest: {outcome.error}", messages.ERROR
            )
        else:
            self.message_user(request, f"{outcome.sent} sent.")


class UserAdmin(auth_admin.UserAdmin):
    """Django's, counted cheaply: every driver has a user, so the list grows with them."""

    paginator = CheapCountPaginator
    show_full_result_count = False


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserAdmin)
