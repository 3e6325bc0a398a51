"""CDRs module, our Receiver interface: `POST {cdrs_url}` with a whole CDR, `GET {cdrs_url}/{pk}`.

The POST answer carries `Location:` with the URL of the stored CDR (spec), and a GET there serves the CDR
exactly as received, to the connection owning its party only. CDRs are immutable, so PUT, PATCH and
DELETE are 405. A repeated POST of a stored CDR is a success with the same `Location` (idempotent).
The same id with other content is refused with 2001 and the stored CDR is kept: the CPO must correct a
CDR with a credit CDR and a new id (mod_cdrs); its `Location` header points at what we hold.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from roaming import selectors
from roaming.services.cdrs import cdr_store

from ..envelope import OcpiResponse
from ..errors import MethodNotAllowed, NotFound
from .base import OcpiView


class CdrsReceiverView(OcpiView):
    module = "cdrs"

    def post(self, request: HttpRequest, cdr_pk: str | None = None) -> OcpiResponse:
        if cdr_pk is not None:
            raise MethodNotAllowed("CDRs are POSTed to the CDRs endpoint itself.")
        cdr: Any = self.parse(request, self.wire.CDR)
        raw = self.parse_json(request)  # kept as received, next to the columns taken from `cdr`
        # A 2.1.1 CDR names no party: it is the connection's own.
        party = self.require_party(
            getattr(cdr, "country_code", None) or self.own_party[0], getattr(cdr, "party_id", None) or self.own_party[1]
        )
        stored = cdr_store(partner=self.caller.partner, cdr=self.wire.cdr_data(cdr, raw, party))
        headers = {"Location": stored.url}
        if stored.conflict:
            return OcpiResponse(
                status_code=2001,
                status_message=(
                    f"CDR {party[0]}/{party[1]}/{cdr.id} is stored already with other content and "
                    "CDRs cannot change: send a credit CDR (credit_reference_id) and a new CDR with a new id."
                ),
                headers=headers,
            )
        return OcpiResponse(http_status=201 if stored.created else 200, headers=headers)

    def get(self, request: HttpRequest, cdr_pk: str | None = None) -> OcpiResponse:
        if cdr_pk is None:
            raise MethodNotAllowed("We are a CDRs Receiver: GET a CDR at the URL our POST answer gave.")
        cdr = selectors.cdr_of_parties(int(cdr_pk), self.parties)
        if cdr is None:
            raise NotFound(f"Unknown CDR {cdr_pk}.")
        return OcpiResponse(dict(cdr.raw))  # served exactly as it was received
