"""CDRs module, our Receiver interface: `POST {cdrs_url}` with a whole CDR, `GET {cdrs_url}/{pk}`.

The POST answer carries `Location:` with the URL of the stored CDR (spec), and a GET there serves the CDR
exactly as received, to the connection owning its party only. CDRs are immutable, so PUT, PATCH and
DELETE are 405. A repeated POST of a stored CDR is a success with the same `Location` (idempotent).
The same id with other content is refused with 2001 and the stored CDR is kept: the CPO must correct a
CDR with a credit CDR and a new id (mod_cdrs); its `Location` header points at what we hold.
"""

from __future__ import annotations

from django.http import HttpRequest

from roaming import selectors
from roaming.services.cdrs import cdr_store

from ..envelope import OcpiResponse
from ..errors import MethodNotAllowed, NotFound
from ..v2_2_1 import CDR
from ..v2_2_1.mapping import cdr_data, cdr_to_ocpi
from .base import OcpiView


class CdrsReceiverView(OcpiView):
    module = "cdrs"

    def post(self, request: HttpRequest, cdr_pk: str | None = None) -> OcpiResponse:
        if cdr_pk is not None:
            raise MethodNotAllowed("CDRs are POSTed to the CDRs endpoint itself.")
        cdr = self.parse(request, CDR)
        raw = self.parse_json(request)  # kept as received, next to the columns taken from `cdr`
        self.require_party(cdr.country_code, cdr.party_id)
        stored = cdr_store(partner=self.caller.partner, cdr=cdr_data(cdr, raw))
        headers = {"Location": stored.url}
        if stored.conflict:
            return OcpiResponse(
                status_code=2001,
                status_message=(
                    f"CDR {cdr.country_code}/{cdr.party_id}/{cdr.id} is stored already with other content and "
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
        return OcpiResponse(cdr_to_ocpi(cdr))
