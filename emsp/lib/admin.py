"""Admin building blocks every app uses."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import OperationalError, connections, transaction
from django.db.models import QuerySet
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
    """Counts that stay cheap on tables of millions of rows, and say when they are not exact.

    Up to `exact_limit` rows the count is exact: COUNT(*) over the list's rows with a LIMIT one past it, which
    reads at most that many rows, and within `time_budget_ms` on PostgreSQL (a filter no index serves may have
    to read the whole table to find few rows). Past either, PostgreSQL gives the planner's estimate of the
    rows (EXPLAIN: table statistics, scaled to the table's current size, times the filter's selectivity),
    and the list says "about 1,000,000"; elsewhere (SQLite) the count stays capped and the list says
    "more than 10,000". An unfiltered list of a table whose statistics say it is well past the limit is not
    counted at all. Use with `show_full_result_count = False`, or the admin counts the whole table again.
    """

    exact_limit = 10_000
    time_budget_ms = 50

    @property
    def count_is_exact(self) -> bool:
        return self._counted[1]

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        """(count, whether it is exact)."""
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return len(object_list), True
        rows = object_list.order_by().values("pk")  # which columns or order makes no difference to how many
        if not rows.query.where:  # the whole table: its statistics know its size well
            estimate = _table_estimate(rows)
            if estimate is not None and estimate > 2 * self.exact_limit:
                return estimate, False
        capped = _count_within(rows, self.exact_limit + 1, self.time_budget_ms)
        if capped is not None and capped <= self.exact_limit:
            return capped, True
        estimate = _planner_estimate(rows)
        # At least exact_limit + 1 rows were there, or the count gave up before knowing how few.
        return max(estimate or 0, self.exact_limit + 1), False

    @property
    def count_label(self) -> str:
        """The count as the list shows it: "17", "about 1,000,000", "more than 10,000"."""
        count = self.count
        if self.count_is_exact:
            return f"{count:,}"
        if count > self.exact_limit + 1:
            return f"about {_round_estimate(count):,}"
        return f"more than {self.exact_limit:,}"


def _count_within(rows: QuerySet[Any], limit: int, budget_ms: int) -> int | None:
    """COUNT(*) of at most `limit` rows; None when PostgreSQL could not finish within the budget."""
    capped = rows[:limit]
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return capped.count()
    try:
        with transaction.atomic(using=rows.db), connection.cursor() as cursor:
            # Local to this transaction, and set back after: inside an outer one (ATOMIC_REQUESTS, tests) the
            # budget must not outlive the count.
            cursor.execute(
                "SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)",
                [f"{budget_ms}ms"],
            )
            previous = cursor.fetchone()[0]
            count = capped.count()
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
            return count
    except OperationalError:  # the statement timed out; its savepoint or transaction is rolled back
        return None


def _planner_estimate(rows: QuerySet[Any]) -> int | None:
    """The planner's row estimate of the list's query (PostgreSQL), without running it."""
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _table_estimate(rows: QuerySet[Any]) -> int | None:
    """The table's rows by its statistics (PostgreSQL; None elsewhere, or never analyzed): reltuples, scaled to
    the table's current size in pages as the planner does."""
    connection = connections[rows.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT CASE WHEN reltuples < 0 OR relpages = 0 THEN NULL ELSE reltuples / relpages "
            "* (pg_relation_size(oid) / current_setting('block_size')::int) END FROM pg_class WHERE oid = %s::regclass",
            [connection.ops.quote_name(rows.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _round_estimate(count: int) -> int:
    """Two significant digits: an estimate claims no more."""
    digits = len(str(count)) - 2
    return round(count, -digits) if digits > 0 else count


class FixedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by a column's values, without its SELECT DISTINCT over the whole table: the values are
    given. On the request log's million rows each such DISTINCT took half a second. Made by `fixed_values`."""

    values: tuple[Any, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup_choices = list(self.values)  # type: ignore[assignment] # the DISTINCT query, never run


def fixed_values(*values: Any) -> type[FixedValuesFilter]:
    """A list filter offering `values` (what the column can hold: an enumeration, HTTP methods)."""
    return type("FixedValuesFilter", (FixedValuesFilter,), {"values": values})


class CachedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by a column's values, with the values read from the table (without the list's joins and
    annotations) at most every `seconds`: for open sets (currencies, countries) on tables too big to read on
    every page. Made by `cached_values`."""

    seconds = 600

    def __init__(self, field: Any, request: Any, params: Any, model: Any, model_admin: Any, field_path: str) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        key = f"admin-values:{model._meta.label}:{field_path}"
        values = cache.get(key)
        if values is None:
            column = model._default_manager.order_by(field_path).values_list(field_path, flat=True).distinct()
            values = list(column)
            cache.set(key, values, self.seconds)
        self.lookup_choices = values


def cached_values(seconds: int = 600) -> type[CachedValuesFilter]:
    return type("CachedValuesFilter", (CachedValuesFilter,), {"seconds": seconds})


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
        mark_safe(" open") if open else "",  # nosec B308 B703 - a constant
        summary,
        text,
    )
