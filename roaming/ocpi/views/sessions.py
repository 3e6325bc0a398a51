"""Sessions module, our Receiver interface: the CPO pushes the sessions of our drivers as they run.

`{sessions_url}/{country_code}/{party_id}/{session_id}`, GET/PUT/PATCH. PUT creates or replaces
(charging periods included); PATCH merges and appends charging periods. An update older than what we
hold is answered 1000 "Not applied" (retrying would not help the CPO); see `roaming.services.sessions`
for the rules, equal timestamps included.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from roaming import selectors
from roaming.services.common import StaleUpdate, UnknownObject
from roaming.services.sessions import session_patch, sessions_upsert

from ..envelope import OcpiResponse
from ..errors import NotFound
from .base import OcpiView
from .locations import _check_same, stale_response, unknown


class SessionsReceiverView(OcpiView):
    module = "sessions"

    def get(self, request: HttpRequest, country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        session = selectors.charging_session(party, session_id)
        if session is None:
            raise NotFound(f"Unknown session {session_id}.")
        return OcpiResponse(self.wire.session_to_ocpi(session))

    def put(self, request: HttpRequest, country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        session: Any = self.parse(request, self.wire.Session)
        _check_same("Session id", session_id, session.id)
        _check_same("country_code", party[0], getattr(session, "country_code", None))
        _check_same("party_id", party[1], getattr(session, "party_id", None))
        result = sessions_upsert(partner=self.caller.partner, items=[self.wire.session_data(session, party)])
        if result.stale:
            return stale_response(
                StaleUpdate(
                    f"Session {session_id}: what we hold is newer (or later in its lifecycle at the same time)."
                )
            )
        return OcpiResponse(http_status=201 if result.created else 200)

    def patch(self, request: HttpRequest, country_code: str, party_id: str, session_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        patch: Any = self.parse(request, self.wire.SessionPatch)
        _check_same("Session id", session_id, patch.id)
        _check_same("country_code", party[0], getattr(patch, "country_code", None))
        _check_same("party_id", party[1], getattr(patch, "party_id", None))
        try:
            session_patch(
                party=party,
                session_id=session_id,
                changes=self.wire.session_patch_data(patch),
                last_updated=patch.last_updated,
            )
        except StaleUpdate as exc:
            return stale_response(exc)
        except UnknownObject as exc:
            raise unknown(exc) from exc
        return OcpiResponse()
