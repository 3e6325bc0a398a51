"""Schema helpers: the documented error responses of an operation, in the one error body (`api.errors`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import OpenApiExample, OpenApiResponse

from api.errors import ErrorBody, error_body


class DriverJWTScheme(SimpleJWTScheme):
    """Our JWT authentication is simplejwt's (it only reads the user and driver in one query): the same scheme."""

    target_class = "api.authentication.DriverJWTAuthentication"


_DESCRIPTIONS = {
    400: ("Invalid input", "invalid", "Please check the highlighted fields."),
    401: ("Not signed in, or the access token expired", "not_authenticated", "Please sign in."),
    403: ("Not allowed", "permission_denied", "You do not have permission to do this."),
    404: ("Not found (or not yours)", "not_found", "Not found."),
    409: ("Conflicts with the current state", "conflict", "This conflicts with the current state."),
    422: ("Cannot be processed", "idempotency_key_reused", "This Idempotency-Key was used for another request."),
    429: ("Too many requests", "throttled", "Request was throttled. Expected available in 30 seconds."),
    502: ("The charger's operator refused or failed", "partner_error", "The charger could not start."),
    504: ("The charger's operator did not answer in time", "partner_timeout", "The charger did not answer."),
}


def errors(*status_codes: int) -> dict[int, OpenApiResponse]:
    """`responses` entries for these error statuses, each with an example body."""
    responses = {}
    for status_code in status_codes:
        description, code, message = _DESCRIPTIONS[status_code]
        example = error_body(status_code, code, message)
        if status_code == 400:
            example["error"]["fields"] = {"postal_code": ["Ensure this field has no more than 16 characters."]}
        responses[status_code] = OpenApiResponse(
            ErrorBody, description=description, examples=[OpenApiExample(description, value=example)]
        )
    return responses


def document_page_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Schema post-processing: a list read with a page number or cursor answers 404 for a page that does not
    exist (DRF's paginators do), so every such operation documents that 404 in the one error body."""
    example = error_body(404, "not_found", "Invalid page.")
    not_found = {
        "description": "No such page (or cursor)",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ErrorBody"},
                "examples": {"NoSuchPage": {"value": example, "summary": "No such page"}},
            }
        },
    }
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            names = {parameter.get("name") for parameter in operation.get("parameters", [])}
            if names & {"page", "cursor"}:
                operation.setdefault("responses", {}).setdefault("404", not_found)
    return result
