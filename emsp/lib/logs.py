"""Structured logs: one JSON object per record, tagged with the request and the OCPI partner it was logged for,
and never a credentials token.

The request id and partner live in context variables, set for the length of a request: by `RequestIdMiddleware`
on the full middleware stack, by the OCPI base view (`roaming/ocpi/views/base.py`, which also names the partner
once it has authenticated the caller) on the short one, and by a Celery signal for a task (its task id).
A caller's X-Request-ID is reused, so one id follows a request across the partner's logs and ours.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
partner_var: contextvars.ContextVar[str] = contextvars.ContextVar("partner", default="")

#: A caller's id is reused if it looks like one (OCPI: a string of up to 255 characters; a log line is no
#: place for control characters or a kilobyte of junk).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,255}")

# `Authorization: Token <t>` / `Bearer <t>` in a message or a headers dict written into one, and
# `"token": "<t>"` as in a credentials body. What stays: the scheme, so a reader knows a token was there.
_SCHEME_TOKEN = re.compile(r"(?i)\b(Token|Bearer|Basic)(\s+|%20)[A-Za-z0-9._~+/=-]{4,}")
_AUTHORIZATION_VALUE = re.compile(r"""(?i)(["']?(?:HTTP_)?Authorization["']?\s*[:=]\s*["']?)([^"',}\n]+)""")
_TOKEN_FIELD = re.compile(r"""(?i)(["']token["']\s*:\s*["'])[^"']+""")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    """`text` with every credentials token it carries replaced by [redacted]."""
    text = _AUTHORIZATION_VALUE.sub(lambda m: m.group(1) + _scheme_only(m.group(2)), text)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _TOKEN_FIELD.sub(lambda m: m.group(1) + REDACTED, text)


def _scheme_only(value: str) -> str:
    scheme = value.split(None, 1)[0] if " " in value.strip() else ""
    return f"{scheme} {REDACTED}" if scheme else REDACTED


def incoming_request_id(value: str | None) -> str:
    """The caller's request id if it sent a usable one, else a new one."""
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return str(uuid.uuid4())


@contextmanager
def log_context(*, request_id: str, partner: str = "") -> Iterator[None]:
    """Tag every record logged inside with this request id and partner."""
    request_token = request_id_var.set(request_id)
    partner_token = partner_var.set(partner)
    try:
        yield
    finally:
        request_id_var.reset(request_token)
        partner_var.reset(partner_token)


class RequestContextFilter(logging.Filter):
    """Puts the request id and partner of the context on every record (a handler filter: records of every logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.partner = partner_var.get()
        return True


class RedactTokensFilter(logging.Filter):
    """Takes credentials tokens out of the message (with its arguments filled in) and any traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC, ISO 8601), level, logger, message, request_id, partner, and the
    traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or request_id_var.get(),
            "partner": getattr(record, "partner", "") or partner_var.get(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc_info"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdMiddleware:
    """The request's id for its log records (the caller's X-Request-ID, or a new one), echoed in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = incoming_request_id(request.headers.get("X-Request-ID"))
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response.headers.setdefault("X-Request-ID", request_id)
        return response
