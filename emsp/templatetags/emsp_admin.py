"""Admin template tags: a date hierarchy that stays cheap on tables of millions of rows."""

from __future__ import annotations

import datetime
from typing import Any

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.contrib.admin.utils import get_fields_from_path
from django.db import models
from django.template.base import Parser, Token
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _

register = template.Library()


def cheap_date_hierarchy(cl: Any) -> dict[str, Any] | None:
    """Django's `date_hierarchy`, with each level's choices made from the first and last date of the list (MIN
    and MAX: two probes of the date's index) instead of SELECT DISTINCT DATE_TRUNC(...) over every row, which
    read the whole request log (0.5 s per page at a million rows). A year, month or day with no rows between
    the first and the last is offered too; choosing it shows an empty list."""
    if not cl.date_hierarchy:
        return None
    field_name = cl.date_hierarchy
    field = get_fields_from_path(cl.model, field_name)[-1]
    year_field, month_field, day_field = f"{field_name}__year", f"{field_name}__month", f"{field_name}__day"
    year_lookup, month_lookup, day_lookup = (cl.params.get(f) for f in (year_field, month_field, day_field))

    def link(filters: dict[str, Any]) -> str:
        return str(cl.get_query_string(filters, [f"{field_name}__"]))

    first, last = _range(cl.queryset, field_name, isinstance(field, models.DateTimeField))
    if not (year_lookup or month_lookup or day_lookup) and first and last and first.year == last.year:
        year_lookup = first.year
        if first.month == last.month:
            month_lookup = first.month
    if year_lookup and month_lookup and day_lookup:
        day = datetime.date(int(year_lookup), int(month_lookup), int(day_lookup))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year_lookup, month_field: month_lookup}),
                "title": capfirst(formats.date_format(day, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(day, "MONTH_DAY_FORMAT"))}],
        }
    if year_lookup and month_lookup:
        days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)] if first and last else []
        return {
            "show": True,
            "back": {"link": link({year_field: year_lookup}), "title": str(year_lookup)},
            "choices": [
                {
                    "link": link({year_field: year_lookup, month_field: month_lookup, day_field: day.day}),
                    "title": capfirst(formats.date_format(day, "MONTH_DAY_FORMAT")),
                }
                for day in days
            ],
        }
    if year_lookup:
        months = [datetime.date(first.year, m, 1) for m in range(first.month, last.month + 1)] if first and last else []
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year_lookup, month_field: month.month}),
                    "title": capfirst(formats.date_format(month, "YEAR_MONTH_FORMAT")),
                }
                for month in months
            ],
        }
    years = range(first.year, last.year + 1) if first and last else range(0)
    return {
        "show": True,
        "back": None,
        "choices": [{"link": link({year_field: str(year)}), "title": str(year)} for year in years],
    }


def _range(queryset: Any, field_name: str, is_datetime: bool) -> tuple[datetime.date | None, datetime.date | None]:
    """The first and last date of the list (in the current time zone)."""
    found = queryset.aggregate(first=models.Min(field_name), last=models.Max(field_name))
    dates = []
    for value in (found["first"], found["last"]):
        if value is not None and is_datetime:
            value = (timezone.localtime(value) if timezone.is_aware(value) else value).date()
        dates.append(value)
    return dates[0], dates[1]


@register.tag(name="cheap_date_hierarchy")
def cheap_date_hierarchy_tag(parser: Parser, token: Token) -> InclusionAdminNode:
    return InclusionAdminNode(
        parser, token, func=cheap_date_hierarchy, template_name="date_hierarchy.html", takes_context=False
    )
