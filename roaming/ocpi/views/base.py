"""The one path every OCPI request takes: authenticate, check routing, handle, envelope, log.

Module views subclass `OcpiView`, set `module`, and implement `get`/`put`/... returning an
`OcpiResponse`. They raise `OcpiError`s for anything a partner got wrong; this class turns every
error, and any crash, into an envelope with the right HTTP and OCPI status, so a partner never gets
an HTML error page.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import BaseModel, ValidationError

from emsp.lib.logs import log_context, partner_var
from roaming.models import OcpiRequestLog

from ..auth import Caller, authenticate
from ..envelope import OcpiResponse
from ..errors import (
    InvalidParameters,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    OcpiError,
    PayloadTooLarge,
    Unauthorized,
)
from ..requestlog import log_exchange, partner_label, request_observe
from ..v2_2_1.types import JsonLimitError, describe_validation_error, loads
from ..versions import Wire, wire_for_version

logger = logging.getLogger("roaming.ocpi")

M = TypeVar("M", bound=BaseModel)

# Modules that are about the connection itself: no routing headers (spec: SHALL NOT be used).
CONFIGURATION_MODULES = frozenset({"versions", "credentials", "hubclientinfo"})

#: Ids in our URLs (location, EVSE, connector, tariff, session, token uid) are CiString(36) in 2.2.1; 2.1.1
#: allows 39 for location ids and EVSE uids (`Wire.max_url_id_length`).
MAX_URL_ID_LENGTH = 36


_UNPARSED = object()


def _party(country_code: str, party_id: str) -> tuple[str, str]:
    return country_code.upper(), party_id.upper()


def _content_length(request: HttpRequest) -> int:
    """The body size the client announced, read as Django reads it (unreadable: no body)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_big() -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body over {settings.OCPI_MAX_BODY_BYTES} bytes: not read.")


def _check_url_ids(kwargs: dict[str, Any], longest: int = MAX_URL_ID_LENGTH) -> None:
    """An id that cannot be an OCPI id names nothing we hold (404), and must not reach a query: PostgreSQL
    refuses NUL in text. The routes match any segment so that this answer is an envelope."""
    for name, value in kwargs.items():
        if not (len(value) <= longest and value.isascii() and value.isprintable()):
            raise NotFound(
                f"{name} in the URL is not an OCPI id: at most {longest} printable ASCII characters.",
                status_code=2001,
            )


def _django_refusal(exc: SuspiciousOperation) -> OcpiError:
    """Django's own refusals of a request as it is read: a body over DATA_UPLOAD_MAX_MEMORY_SIZE, more query
    fields than DATA_UPLOAD_MAX_NUMBER_FIELDS."""
    if isinstance(exc, RequestDataTooBig):
        return _too_big()
    return InvalidParameters(f"Request refused: {exc}", http_status=400)


def _as_ocpi_error(exc: OcpiError | SuspiciousOperation | ValidationError) -> OcpiError:
    """What a handler raised, as the error we answer. A `ValidationError` outside `parse` comes from a version's
    mapping, which reads a partner's object in another version's shape (2.1.1 through 2.2.1): the body is wrong."""
    if isinstance(exc, OcpiError):
        return exc
    if isinstance(exc, ValidationError):
        return InvalidParameters(describe_validation_error(exc))
    return _django_refusal(exc)


@method_decorator(csrf_exempt, name="dispatch")
class OcpiView(View):
    module: str = ""
    #: Token A (invitation) opens only the versions and credentials modules.
    accepts_invitation_token: bool = False
    #: Write to the request log. Off only for endpoints whose volume makes the log useless.
    log_requests: bool = True
    #: The OCPI version of the URL (set by the routes): which `Wire` reads and writes bodies.
    version: str = "2.2.1"

    caller: Caller
    _payload: Any = _UNPARSED

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.monotonic()
        request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
        with log_context(request_id=request_id):
            response, caller = self._dispatch(request, request_id, started, *args, **kwargs)
        request_observe(
            direction="in",
            module=self.module,
            partner=caller.partner if caller else None,
            http_status=response.status_code,
            seconds=time.monotonic() - started,
        )
        return response

    def _dispatch(
        self, request: HttpRequest, request_id: str, started: float, *args: Any, **kwargs: Any
    ) -> tuple[HttpResponse, Caller | None]:
        correlation_id = request.headers.get("X-Correlation-ID") or request_id
        caller: Caller | None = None
        error_text = ""
        try:
            caller = authenticate(request, use_cache=self.module not in CONFIGURATION_MODULES)
            self.caller = caller
            partner_var.set(partner_label(caller.partner))
            if caller.is_invitation and not self.accepts_invitation_token:
                raise Unauthorized("Token A only opens the versions and credentials modules.")
            if _content_length(request) > settings.OCPI_MAX_BODY_BYTES:
                raise _too_big()
            if self.module not in CONFIGURATION_MODULES and self.wire.routing_headers:
                self._check_routing_headers(request)
            _check_url_ids(kwargs, self.wire.max_url_id_length)
            method = (request.method or "").lower()
            # Only HTTP methods: a made-up one named like a helper (PARSE, DISPATCH) must not call it.
            handler = getattr(self, method, None) if method in self.http_method_names else None
            if handler is None:
                raise MethodNotAllowed(f"{request.method} is not supported on this endpoint.")
            response = handler(request, *args, **kwargs)
        except (OcpiError, SuspiciousOperation, ValidationError) as exc:
            error = _as_ocpi_error(exc)
            response = OcpiResponse(
                error.data,
                status_code=error.status_code,
                status_message=error.message,
                http_status=error.http_status,
                headers=error.headers,
            )
            error_text = error.message
        except Exception as exc:
            logger.exception("OCPI %s %s failed", request.method, request.path)
            response = OcpiResponse(status_code=3000, status_message="Internal server error.", http_status=500)
            error_text = f"{type(exc).__name__}: {exc}"

        response["Content-Length"] = str(len(response.content))  # no CommonMiddleware on OCPI requests
        response["X-Request-ID"] = request_id
        response["X-Correlation-ID"] = correlation_id
        if self.module not in CONFIGURATION_MODULES and self.wire.routing_headers:
            to_country = request.headers.get("OCPI-from-country-code")
            to_party = request.headers.get("OCPI-from-party-id")
            if to_country and to_party:
                response["OCPI-to-country-code"] = to_country
                response["OCPI-to-party-id"] = to_party
            response["OCPI-from-country-code"] = settings.OCPI_COUNTRY_CODE
            response["OCPI-from-party-id"] = settings.OCPI_PARTY_ID

        if self.log_requests:
            self._log(request, response, caller, request_id, correlation_id, started, error_text)
        return response, caller

    def options(self, request: HttpRequest, *args: Any, **kwargs: Any) -> OcpiResponse:
        """The methods this endpoint serves (`Allow`), in an envelope like every answer."""
        allowed = [m.upper() for m in self.http_method_names if hasattr(self, m)]
        return OcpiResponse(headers={"Allow": ", ".join(allowed)})

    # --- helpers for module views ------------------------------------------------------------------

    @property
    def wire(self) -> Wire:
        """The wire models and mapping of this URL's OCPI version."""
        return wire_for_version(self.version)

    @property
    def parties(self) -> frozenset[tuple[str, str]]:
        """The (country_code, party_id) pairs the caller registered in the handshake."""
        return self.caller.parties

    @property
    def own_party(self) -> tuple[str, str]:
        """The caller's party for objects that name none (2.1.1): its first, in a stable order."""
        if not self.parties:
            raise NotFound("This connection has no party.", status_code=2001)
        return min(self.parties)

    def require_party(self, country_code: str, party_id: str) -> tuple[str, str]:
        """Client-owned object URLs must name one of the caller's own parties (else 404, per spec)."""
        party = _party(country_code, party_id)
        if party not in self.parties:
            raise NotFound(f"Party {party[0]}/{party[1]} is not one of this connection's parties.", status_code=2001)
        return party

    def parse_json(self, request: HttpRequest) -> Any:
        """The request body as JSON, parsed once per request (views read it for a model and as sent)."""
        if self._payload is _UNPARSED:
            try:
                self._payload = loads(request.body or b"null")
            except JsonLimitError as exc:
                raise MalformedJson(f"Request body refused: {exc}.") from exc
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise MalformedJson(f"Request body is not valid JSON: {exc}") from exc
        return self._payload

    def parse(self, request: HttpRequest, model: type[M]) -> M:
        """The request body as `model`, or a 2001 that names every field that is wrong."""
        payload = self.parse_json(request)
        if not isinstance(payload, dict):
            raise InvalidParameters("Request body must be a JSON object.")
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidParameters(describe_validation_error(exc)) from exc

    # --- internals ---------------------------------------------------------------------------------

    def _check_routing_headers(self, request: HttpRequest) -> None:
        from_country = request.headers.get("OCPI-from-country-code")
        from_party = request.headers.get("OCPI-from-party-id")
        if from_country and from_party and _party(from_country, from_party) not in self.parties:
            raise InvalidParameters(
                f"OCPI-from {from_country}/{from_party} is not a party of this connection.", http_status=403
            )
        to_country = request.headers.get("OCPI-to-country-code")
        to_party = request.headers.get("OCPI-to-party-id")
        if (
            to_country
            and to_party
            and _party(to_country, to_party) != _party(settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID)
        ):
            raise InvalidParameters(
                f"OCPI-to {to_country}/{to_party} is not a party on this platform.", http_status=404
            )

    def _log(
        self,
        request: HttpRequest,
        response: HttpResponse,
        caller: Caller | None,
        request_id: str,
        correlation_id: str,
        started: float,
        error_text: str,
    ) -> None:
        try:
            log_exchange(
                direction=OcpiRequestLog.Direction.IN,
                partner=caller.partner if caller else None,
                module=self.module,
                method=request.method or "",
                url=request.get_full_path(),
                http_status=response.status_code,
                ocpi_status=getattr(response, "ocpi_status", None),
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=request_id,
                correlation_id=correlation_id,
                request_body=(
                    request.body
                    if request.method in ("POST", "PUT", "PATCH")
                    and _content_length(request) <= settings.OCPI_MAX_BODY_BYTES
                    else None
                ),
                response_body=response.content,
                error=error_text,
            )
        except Exception:
            # Losing a log line must never lose the partner's request.
            logger.exception("could not write the OCPI request log")
