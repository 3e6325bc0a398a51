"""Credentials module (our side as server): GET, POST (register), PUT (update/rotate), DELETE."""

from __future__ import annotations

from django.http import HttpRequest

from roaming.models import Partner
from roaming.services import partners as partner_services
from roaming.services.partners import HandshakeError, ReceivedCredentials

from ..envelope import OcpiResponse
from ..errors import MethodNotAllowed, OcpiError
from .base import OcpiView


def _as_ocpi_error(exc: HandshakeError) -> OcpiError:
    return OcpiError(exc.message, status_code=exc.ocpi_status)


class CredentialsView(OcpiView):
    module = "credentials"
    accepts_invitation_token = True

    def get(self, request: HttpRequest) -> OcpiResponse:
        # We keep only a hash of the partner's token, so we echo the one it authenticated with.
        return OcpiResponse(partner_services.our_credentials(self.caller.token, wire=self.wire))

    def post(self, request: HttpRequest) -> OcpiResponse:
        if not self.caller.is_invitation or self.caller.partner.status != Partner.Status.INVITED:
            raise MethodNotAllowed("Already registered: use PUT to update credentials, DELETE to unregister.")
        credentials = self._credentials(request)
        try:
            token_c = partner_services.accept_registration(partner=self.caller.partner, credentials=credentials)
        except HandshakeError as exc:
            raise _as_ocpi_error(exc) from exc
        return OcpiResponse(partner_services.our_credentials(token_c, wire=self.wire))

    def put(self, request: HttpRequest) -> OcpiResponse:
        self._require_registered()
        credentials = self._credentials(request)
        try:
            token = partner_services.accept_update(
                partner=self.caller.partner,
                presented_token=self.caller.credentials_token,
                credentials=credentials,
            )
        except HandshakeError as exc:
            raise _as_ocpi_error(exc) from exc
        return OcpiResponse(partner_services.our_credentials(token, wire=self.wire))

    def delete(self, request: HttpRequest) -> OcpiResponse:
        self._require_registered()
        partner_services.accept_unregister(partner=self.caller.partner)
        return OcpiResponse()

    def _credentials(self, request: HttpRequest) -> ReceivedCredentials:
        """The partner's Credentials object in this URL's version (the version the partner chose)."""
        credentials = self.parse(request, self.wire.Credentials)
        return ReceivedCredentials.of(credentials, self.wire)

    def _require_registered(self) -> None:
        if self.caller.is_invitation or self.caller.partner.status != Partner.Status.REGISTERED:
            raise MethodNotAllowed("Not registered: register with POST first.")
