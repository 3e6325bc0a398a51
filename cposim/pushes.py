"""What the simulator sends to the EMSP's receiver (and sender) interfaces, by module.

URLs always come from the EMSP's version details; nothing here knows an EMSP path. Every body goes
through the `Wire` of the OCPI version spoken, which shapes it for that version. When the
simulator is not registered, or the EMSP lists no endpoint for a module, the push is skipped and
logged, so the simulator can be driven without any EMSP at all.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from cposim.credentials import Credentials
from cposim.peer import Call, Peer
from cposim.wire import Wire

log = logging.getLogger("cposim")


class Pusher:
    def __init__(self, *, peer: Peer, credentials: Credentials, wire: Wire, own_party: tuple[str, str]) -> None:
        self.peer = peer
        self.wire = wire
        self.credentials = credentials
        self.own_party = own_party

    def _target(self, module: str, role: str) -> tuple[str, str] | None:
        state = self.credentials.state
        if not state.registered or not state.outbound_token:
            log.info("not registered with an EMSP; %s push skipped", module)
            return None
        url = self.credentials.endpoint(module, role)
        if url is None:
            log.info("the EMSP has no %s %s endpoint; push skipped", module, role)
            return None
        return url, state.outbound_token

    def _owned(self, base: str, *parts: str) -> str:
        cc, pid = self.own_party
        return "/".join([base, quote(cc), quote(pid), *(quote(p, safe="") for p in parts)])

    def _push(
        self, method: str, module: str, parts: tuple[str, ...], body: Any, *, reorder: bool = True
    ) -> Call | None:
        target = self._target(module, "RECEIVER")
        if target is None:
            return None
        base, token = target
        url = self._owned(base, *parts) if parts else base
        return self.peer.push(
            method, url, token=token, module=module, body=body, to=self.credentials.peer_party(), reorder=reorder
        )

    # locations ----------------------------------------------------------------------------

    def location(self, location: dict[str, Any]) -> Call | None:
        return self._push("PUT", "locations", (location["id"],), self.wire.location(location))

    def evse(self, location_id: str, evse: dict[str, Any]) -> Call | None:
        return self._push("PUT", "locations", (location_id, evse["uid"]), self.wire.evse(evse))

    def connector(self, location_id: str, evse_uid: str, connector: dict[str, Any]) -> Call | None:
        return self._push("PUT", "locations", (location_id, evse_uid, connector["id"]), self.wire.connector(connector))

    def location_patch(self, parts: tuple[str, ...], patch: dict[str, Any]) -> Call | None:
        """PATCH at location, EVSE or connector depth; `patch` must carry `last_updated`."""
        return self._push("PATCH", "locations", parts, patch)

    # tariffs ------------------------------------------------------------------------------

    def tariff(self, tariff: dict[str, Any]) -> Call | None:
        return self._push("PUT", "tariffs", (tariff["id"],), self.wire.tariff(tariff))

    def tariff_delete(self, tariff_id: str) -> Call | None:
        return self._push("DELETE", "tariffs", (tariff_id,), None)

    # sessions and CDRs --------------------------------------------------------------------

    def session(self, session: dict[str, Any]) -> Call | None:
        return self._push("PUT", "sessions", (session["id"],), self.wire.session(session))

    def session_patch(self, session: dict[str, Any], patch: dict[str, Any]) -> Call | None:
        """PATCH `session` (the whole session, after the change) with `patch`."""
        return self._push("PATCH", "sessions", (session["id"],), self.wire.session_patch(patch, session))

    def cdr(self, cdr: dict[str, Any]) -> Call | None:
        """POST a CDR; the answer's `Location` header says where the EMSP keeps it."""
        return self._push("POST", "cdrs", (), self.wire.cdr(cdr), reorder=False)

    # tokens and commands ------------------------------------------------------------------

    def authorize(self, token_uid: str, token_type: str, references: dict[str, Any] | None) -> Call | None:
        """Real-time authorization on the EMSP's tokens Sender interface."""
        target = self._target("tokens", "SENDER")
        if target is None:
            return None
        base, token = target
        url = f"{base}/{quote(token_uid, safe='')}/authorize"
        return self.peer.request(
            "POST",
            url,
            token=token,
            module="tokens",
            body=references,
            params={"type": token_type},
            to=self.credentials.peer_party(),
        )

    def command_result(self, response_url: str, result: str, message: str | None = None) -> Call | None:
        """POST the asynchronous answer (2.2.1 CommandResult, 2.1.1 CommandResponse): a bare object."""
        state = self.credentials.state
        if not state.registered or not state.outbound_token:
            log.info("not registered; CommandResult %s for %s not sent", result, response_url)
            return None
        return self.peer.request(
            "POST",
            response_url,
            token=state.outbound_token,
            module="commands",
            body=self.wire.command_result(result, message),
            to=self.credentials.peer_party(),
        )
