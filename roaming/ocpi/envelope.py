"""The OCPI response envelope (`data`, `status_code`, `status_message`, `timestamp`) as an HttpResponse."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.http import HttpResponse

from .v2_2_1.types import dumps, format_datetime


def envelope(data: Any = None, *, status_code: int = 1000, status_message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = status_code
    if status_message:
        body["status_message"] = status_message
    body["timestamp"] = format_datetime(datetime.now(UTC))
    return body


class OcpiResponse(HttpResponse):
    """An envelope response; keeps the status code for the request log."""

    def __init__(
        self,
        data: Any = None,
        *,
        status_code: int = 1000,
        status_message: str | None = None,
        http_status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = dumps(envelope(data, status_code=status_code, status_message=status_message))
        super().__init__(body, content_type="application/json", status=http_status, headers=headers)
        self.ocpi_status = status_code
