"""Tokens module, our Sender interface: CPOs pull our tokens and ask us, in real time, whether one may charge.

`GET {tokens_url}` pages through every token we issued (valid or not: a CPO must learn about blocked ones).
`POST {tokens_url}/{token_uid}/authorize[?type=RFID]` answers an AuthorizationInfo while a driver waits at the
charger, so it is kept to one statement on PostgreSQL (see `token_authorize`). Every answer is recorded with its
reason, 2004 Unknown Token included.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from drivers.models import Token
from drivers.selectors import Allowed, tokens_for_partners
from roaming.services.tokens import token_authorize

from ..envelope import OcpiResponse
from ..errors import InvalidParameters, UnknownToken
from ..pagination import paginated_response
from .base import OcpiView

_TOKEN_TYPES = frozenset(Token.Type.values)


class TokensSenderView(OcpiView):
    module = "tokens"

    def get(self, request: HttpRequest) -> OcpiResponse:
        to_ocpi = self.wire.token_to_ocpi
        return paginated_response(request, tokens_for_partners(), lambda page: [to_ocpi(t) for t in page])


class TokenAuthorizeView(OcpiView):
    module = "tokens"

    def post(self, request: HttpRequest, token_uid: str) -> OcpiResponse:
        token_type = request.GET.get("type") or Token.Type.RFID
        if token_type not in _TOKEN_TYPES:
            raise InvalidParameters(f"Unknown token type {token_type!r}.")
        references = self._references(request)
        location_id, evse_uids = (references.location_id, references.evse_uids) if references else ("", ())
        # uid is a CiString: our look-up ignores case (drivers.selectors.uid_key).
        token, verdict, authorization = token_authorize(
            partner=self.caller.partner, uid=token_uid, type=token_type, location_id=location_id, evse_uids=evse_uids
        )
        if token is None:  # the refusal is recorded; OCPI answers no AuthorizationInfo for it
            raise UnknownToken(f"Unknown token {token_uid} ({token_type}).")
        location: dict[str, Any] | None = None
        info: dict[str, Any] | None = None
        if verdict.allowed == Allowed.ALLOWED:
            if references is not None:
                # We do not restrict tokens per location: every EVSE asked about is allowed.
                location = references.model_dump(mode="json", exclude_none=True)
        else:
            language = token.language or token.driver.language or "en"
            info = {"language": language, "text": verdict.reason or verdict.allowed}
        return OcpiResponse(
            self.wire.authorization_info(
                allowed=verdict.allowed, token=token, reference=authorization.reference, location=location, info=info
            )
        )

    def _references(self, request: HttpRequest) -> Any:
        """The optional LocationReferences body (absent, empty or null: none)."""
        if self.parse_json(request) is None:
            return None
        return self.parse(request, self.wire.LocationReferences)
