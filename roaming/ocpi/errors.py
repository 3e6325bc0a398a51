"""OCPI errors and their place on the wire.

The specification puts errors at two layers: HTTP errors (bad JSON, no or wrong token, unknown
resource, credentials in the wrong state) use HTTP status codes, and a request that reaches the OCPI
layer is answered with an OCPI status code inside the envelope. Each error here carries both, and the
base view renders every one of them as an envelope.
"""

from __future__ import annotations

from typing import Any


class OcpiError(Exception):
    """An error answered to a partner: OCPI `status_code` plus the HTTP status it travels with."""

    status_code = 2000
    http_status = 200
    #: HTTP headers the answer carries (Retry-After on a 429).
    headers: dict[str, str] | None = None

    def __init__(
        self, message: str, *, status_code: int | None = None, http_status: int | None = None, data: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if http_status is not None:
            self.http_status = http_status
        self.data = data


class MalformedJson(OcpiError):
    status_code = 2001
    http_status = 400


class PayloadTooLarge(OcpiError):
    """A body above OCPI_MAX_BODY_BYTES: refused unread."""

    status_code = 2001
    http_status = 413


class InvalidParameters(OcpiError):
    """2001: missing or invalid fields, PATCH without last_updated, id in URL ≠ id in body."""

    status_code = 2001


class NotEnoughInformation(OcpiError):
    status_code = 2002


class UnknownLocation(OcpiError):
    status_code = 2003


class UnknownToken(OcpiError):
    status_code = 2004
    http_status = 404


class NotFound(OcpiError):
    status_code = 2000
    http_status = 404


class Unauthorized(OcpiError):
    status_code = 2000
    http_status = 401


class TooManyAuthFailures(OcpiError):
    """Too many requests with a wrong token from one address: refused without looking at the token."""

    status_code = 2000
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class MethodNotAllowed(OcpiError):
    status_code = 2000
    http_status = 405


class ServerError(OcpiError):
    status_code = 3000
    http_status = 500


class UnableToUseClientApi(OcpiError):
    """3001: during registration we could not read the partner's versions or endpoints."""

    status_code = 3001


class UnsupportedVersion(OcpiError):
    status_code = 3002


class NoMatchingEndpoints(OcpiError):
    status_code = 3003
