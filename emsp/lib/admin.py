"""Admin building blocks every app uses."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    """Rows staff read and act on through actions, never edit: what partners sent us is evidence, only the
    partner changes it; what the platform records changes through its services."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheapCountPaginator(Paginator):
    """Logs grow by millions of rows: don't COUNT(*) them on every page."""

    @cached_property
    def count(self) -> int:
        return 10_000_000


def admin_link(obj: Any) -> str:
    """A link to the object's admin page, or "-"."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj)
