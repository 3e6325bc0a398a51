"""One error body for every error the driver API returns, so an app handles errors in one place:

    {"error": {"type": "validation_error", "code": "invalid", "message": "...", "fields": {"email": ["..."]}}}

`type` says what kind of error (stable, for the app's logic), `code` the precise reason (DRF's codes and ours),
`message` a sentence in the driver's words the app may show as is, `fields` only for validation errors.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

#: The `type` of each HTTP status the API answers with.
TYPES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
    500: "server_error",
    502: "partner_error",
    503: "unavailable",
    504: "partner_timeout",
}


class Conflict(exceptions.APIException):
    """The request clashes with the current state (e.g. a session is already running on that EVSE)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This conflicts with the current state."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    """Well-formed, but it cannot be done (e.g. an Idempotency-Key reused for another request)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This request cannot be processed."
    default_code = "unprocessable"


class PartnerError(exceptions.APIException):
    """The charger's operator refused or failed; `detail` says so in the driver's words."""

    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The charger's operator could not do this right now."
    default_code = "partner_error"


def error_body(status_code: int, code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": TYPES.get(status_code, "error"), "code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _first_code(codes: Any) -> str:
    if isinstance(codes, dict):
        for value in codes.values():
            return _first_code(value)
    if isinstance(codes, list) and codes:
        return _first_code(codes[0])
    return str(codes) if codes else "error"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (headers such as Retry-After and WWW-Authenticate), with the body in our one shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # a bug: Django's 500 handler answers (below)
    detail = exc.detail
    if isinstance(exc, exceptions.ValidationError):
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        message = _first_message(detail) if not isinstance(detail, dict) else "Please check the highlighted fields."
        response.data = error_body(400, "invalid", message, fields)
    else:
        response.data = error_body(response.status_code, _first_code(exc.get_codes()), _first_message(detail))
        wait = getattr(exc, "wait", None)  # Throttled
        if wait is not None:
            response.data["error"]["retry_after"] = int(wait)
    return response


class ErrorDetail(serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(set(TYPES.values())))
    code = serializers.CharField(help_text="The precise reason, e.g. `invalid`, `not_found`, `token_not_valid`.")
    message = serializers.CharField(help_text="A sentence the app may show the driver as is.")
    retry_after = serializers.IntegerField(required=False, help_text="Throttled: seconds to wait.")


# `fields` is a property of every serializer, so the key of that name is declared beside the class body.
ErrorDetail._declared_fields["fields"] = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField()),
    required=False,
    help_text="Validation errors per field.",
)


class ErrorBody(serializers.Serializer):
    """The body of every error response."""

    error = ErrorDetail()
