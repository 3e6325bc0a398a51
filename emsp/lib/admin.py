"""Admin building blocks every app uses."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


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


def admin_link(obj: Any, text: Any = None) -> str:
    """A link to the object's admin page (its text `text`, else the object), or "-"."""
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, obj if text is None else text)


# --- showing related objects and data in lists and change pages -------------------------------------------


def changelist_link(model: Any, text: str, **params: Any) -> SafeString:
    """A link to a model's admin list filtered by `params` (e.g. `driver__id__exact=7`): the rows related to one
    object, one click away, without loading them."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), text)


def one_line(text: Any, length: int = 20, title: str = "") -> SafeString:
    """A list cell that never wraps: cut to `length` characters with an ellipsis, the whole text (or `title`) on
    hover. Ids and names stay readable in a list that fits 1600 px."""
    full = "" if text is None else str(text)
    short = full if len(full) <= length else full[: length - 1] + "…"
    return format_html('<span style="white-space:nowrap" title="{}">{}</span>', title or full, short)


def when(moment: datetime | None) -> SafeString:
    """A time in a list: "2026-11-10 10:00" on one line (the admin's time zone, UTC), seconds on hover."""
    if moment is None:
        return format_html("{}", "-")
    local = timezone.localtime(moment)
    return format_html(
        '<span style="white-space:nowrap" title="{}">{}</span>',
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        local.strftime("%Y-%m-%d %H:%M"),
    )


def json_block(value: Any, summary: str = "", *, open: bool = False) -> SafeString:
    """JSON pretty-printed and folded (<details>): charging periods, opening times, a CDR as received, request
    and response bodies. A string is parsed first (a log body); one that is not JSON (cut off, or not JSON at
    all) is shown as it is. The summary says what is inside, so a folded block still tells something."""
    if isinstance(value, str | bytes):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            value = json.loads(text) if text.strip() else None
        except ValueError:
            return _details(summary or f"{len(text):,} characters (not JSON)", text, open)
    if value in (None, "", [], {}):
        return format_html("{}", "-")
    if not summary:
        summary = (
            f"{len(value)} item{'s' if len(value) != 1 else ''}"
            if isinstance(value, list)
            else f"{len(value)} field{'s' if len(value) != 1 else ''}"
            if isinstance(value, dict)
            else "value"
        )
    return _details(summary, json.dumps(value, indent=2, ensure_ascii=False, default=str), open)


def _details(summary: str, text: str, open: bool) -> SafeString:
    return format_html(
        '<details class="json"{}><summary>{}</summary><pre style="white-space:pre-wrap;max-height:40em;'
        'overflow:auto">{}</pre></details>',
        mark_safe(" open") if open else "",
        summary,
        text,
    )
