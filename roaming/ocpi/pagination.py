"""Pagination of the lists we serve (Sender interfaces): offset/limit/date_from/date_to in,
`Link`, `X-Total-Count` and `X-Limit` out, as transport_and_format.asciidoc describes.

Objects come oldest first (by primary key, i.e. creation), so a crawl that meets new objects only
sees a different last page. The `Link` URL is built on OCPI_BASE_URL, the address partners use,
and keeps every filter of the original request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .envelope import OcpiResponse
from .errors import InvalidParameters
from .v2_2_1.types import format_datetime, parse_datetime

T = TypeVar("T", bound=Model)


# The largest offset or limit we read: far beyond any list we serve, and within what OFFSET and LIMIT take on
# every database (SQLite refuses more than 2^63 - 1, PostgreSQL too).
_MAX_INT = 2_147_483_647


def _int(request: HttpRequest, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParameters(f"{name} must be a whole number, got {raw[:40]!r}.") from None
    if not 0 <= value <= _MAX_INT:
        raise InvalidParameters(f"{name} must be between 0 and {_MAX_INT}.")
    return value


def _datetime(request: HttpRequest, name: str) -> Any:
    raw = request.GET.get(name)
    if not raw:
        return None
    try:
        return parse_datetime(raw)
    except ValueError:
        raise InvalidParameters(f"{name} is not an OCPI DateTime: {raw!r}.") from None


def paginated_response(
    request: HttpRequest,
    queryset: QuerySet[T],
    serialize: Callable[[list[T]], list[Any]],
    *,
    date_field: str = "last_updated",
) -> OcpiResponse:
    offset = _int(request, "offset", 0)
    limit = min(
        _int(request, "limit", settings.OCPI_PAGE_LIMIT_DEFAULT) or settings.OCPI_PAGE_LIMIT_DEFAULT,
        settings.OCPI_PAGE_LIMIT_MAX,
    )
    date_from, date_to = _datetime(request, "date_from"), _datetime(request, "date_to")
    if date_from is not None:
        queryset = queryset.filter(**{f"{date_field}__gte": date_from})
    if date_to is not None:
        queryset = queryset.filter(**{f"{date_field}__lt": date_to})
    total = queryset.count()
    page = list(queryset.order_by("pk")[offset : offset + limit])

    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if offset + len(page) < total:
        query: dict[str, str] = {"offset": str(offset + len(page)), "limit": str(limit)}
        if date_from is not None:
            query["date_from"] = format_datetime(date_from)
        if date_to is not None:
            query["date_to"] = format_datetime(date_to)
        path = request.path.removeprefix("/ocpi")
        headers["Link"] = f'<{settings.OCPI_BASE_URL}{path}?{urlencode(query)}>; rel="next"'
    return OcpiResponse(serialize(page), headers=headers)
