"""The credentials module in both directions: tokens A/B/C, registration, rotation, unregistration.

Naming is by direction instead of by letter, because the letters swap with who initiates:
`inbound_token` is what the EMSP sends to call us, `outbound_token` is what we send to call it.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cposim import protocol
from cposim.peer import Peer
from cposim.protocol import Response
from cposim.state import Store
from cposim.wire import Wire

log = logging.getLogger("cposim")


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class Registration:
    token_a: str
    registered: bool = False
    inbound_token: str | None = None
    outbound_token: str | None = None
    # A token we handed out in a handshake we started and that is not confirmed yet; the EMSP uses
    # it to fetch our endpoints while it processes our POST/PUT.
    pending_token: str | None = None
    peer_versions_url: str | None = None
    peer_version_url: str | None = None
    peer_endpoints: list[dict[str, Any]] = field(default_factory=list)
    peer_roles: list[dict[str, Any]] = field(default_factory=list)
    # The OCPI version agreed with the EMSP (None: not registered, the configured one is spoken).
    version: str | None = None


class HandshakeError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


class Caller:
    """Who an incoming request is from, judged by its token."""

    NONE = "none"
    TOKEN_A = "token_a"
    STALE_TOKEN_A = "stale_token_a"
    PEER = "peer"


class Credentials:
    def __init__(
        self,
        *,
        store: Store,
        peer: Peer,
        wire: Wire,
        roles: list[dict[str, Any]],
        versions_url: Callable[[], str],
        token_a: str | None,
        others: Sequence[Wire] = (),
        on_version: Callable[[Wire], None] | None = None,
        hub_party_id: str | None = None,
    ) -> None:
        self.store = store
        self.peer = peer
        # Every version we offer, preferred first: `wire` (the configured one), then `others`. The one in use
        # is the one agreed with the EMSP, or `wire` while there is none; `on_version` hears of every change.
        self.wires = {w.version: w for w in (wire, *others)}
        self.default = wire
        self.wire = wire
        self.on_version = on_version
        self.roles = roles
        self.hub_party_id = hub_party_id
        self.versions_url = versions_url
        self._handshake = threading.Lock()
        saved = store.get("meta", "registration")
        if saved is not None:
            self.state = Registration(**saved)
            if token_a:
                self.state.token_a = token_a
        else:
            self.state = Registration(token_a=token_a or new_token())
        self.wire = self.wires.get(self.state.version or "", wire)
        self._save()

    def _use(self, wire: Wire) -> None:
        """Speak `wire`'s version from now on (the one the handshake agreed on)."""
        self.state.version = wire.version
        if wire is not self.wire:
            log.info("speaking OCPI %s with the EMSP", wire.version)
        self.wire = wire
        if self.on_version is not None:
            self.on_version(wire)

    def _save(self) -> None:
        self.store.put("meta", "registration", asdict(self.state))

    # who is calling -----------------------------------------------------------------------

    def identify(self, authorization: str | None) -> str:
        state = self.state
        for token in protocol.token_candidates(authorization):
            if token in (state.inbound_token, state.pending_token) and token is not None:
                return Caller.PEER
            if token == state.token_a:
                return Caller.STALE_TOKEN_A if state.registered else Caller.TOKEN_A
        return Caller.NONE

    # what we know about the EMSP ----------------------------------------------------------

    def endpoint(self, module: str, role: str) -> str | None:
        """The EMSP's URL for a module and interface role, as its version details list it."""
        for item in self.state.peer_endpoints:
            if item.get("identifier") == module and item.get("role", role) == role:
                return str(item["url"]).rstrip("/")
        return None

    def peer_party(self) -> tuple[str, str] | None:
        roles = self.state.peer_roles
        chosen = next((r for r in roles if r.get("role") == "EMSP"), roles[0] if roles else None)
        if chosen is None:
            return None
        return str(chosen["country_code"]), str(chosen["party_id"])

    def own(self, token: str, wire: Wire | None = None) -> dict[str, Any]:
        return (wire or self.wire).credentials(token, self.versions_url(), self.roles, self.hub_party_id)

    # server side --------------------------------------------------------------------------

    def handle(self, method: str, caller: str, body: Any, version: str | None = None) -> Response:
        """A request to our credentials endpoint of `version` (the one in use when None): a POST or PUT there
        agrees on that version."""
        wire = self.wires.get(version or "", self.wire)
        if method == "GET":
            if caller == Caller.TOKEN_A:
                return Response.ok(self.own(self.state.token_a, wire))
            return Response.ok(self.own(self.state.inbound_token or self.state.pending_token or "", wire))
        if method == "POST":
            if self.state.registered or caller != Caller.TOKEN_A:
                return Response.error(405, protocol.CLIENT_ERROR, "Already registered; use PUT to update")
            return self._accept(body, replacing=False, wire=wire)
        if method == "PUT":
            if not self.state.registered or caller != Caller.PEER:
                return Response.error(405, protocol.CLIENT_ERROR, "Not registered; use POST")
            return self._accept(body, replacing=True, wire=wire)
        if method == "DELETE":
            if not self.state.registered or caller != Caller.PEER:
                return Response.error(405, protocol.CLIENT_ERROR, "Not registered")
            self._forget()
            log.info("credentials deleted by the EMSP; token A is valid again")
            return Response.ok()
        return Response.error(405, protocol.CLIENT_ERROR, f"{method} not allowed on credentials")

    def _accept(self, body: Any, *, replacing: bool, wire: Wire) -> Response:
        """POST/PUT from the EMSP: fetch its endpoints with the token it sent, answer a new token."""
        roles = wire.peer_roles(body) if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("token"), str)
            or not isinstance(body.get("url"), str)
            or roles is None
        ):
            needed = wire.credentials_need
            return Response.error(200, protocol.INVALID_PARAMETERS, f"Credentials need token, url and {needed}")
        with self._handshake:
            try:
                _, version_url, endpoints = self.fetch_endpoints(body["url"], body["token"], [wire])
            except HandshakeError as exc:
                return Response.error(200, exc.status_code, str(exc))
            state = self.state
            state.registered = True
            state.outbound_token = body["token"]
            state.inbound_token = new_token()
            state.pending_token = None
            state.peer_versions_url = body["url"]
            state.peer_version_url = version_url
            state.peer_endpoints = endpoints
            state.peer_roles = roles
            self._use(wire)
            self._save()
        log.info("credentials %s by the EMSP at %s", "updated" if replacing else "registered", body["url"])
        return Response.ok(self.own(state.inbound_token, wire))

    def _forget(self) -> None:
        self.state = Registration(token_a=self.state.token_a)
        self._use(self.default)
        self.state.version = None
        self._save()

    def offered(self) -> list[Wire]:
        """The versions we list, preferred first."""
        return list(self.wires.values())

    def fetch_endpoints(
        self, versions_url: str, token: str, wires: Sequence[Wire] | None = None
    ) -> tuple[Wire, str, list[dict[str, Any]]]:
        """GET the EMSP's versions, pick the first of `wires` (default: every version we offer, preferred first)
        it lists too, GET its details; the spec's steps 2-3 / 5. Answers (that version's wire, its URL at the
        EMSP, its endpoints)."""
        call = self.peer.request("GET", versions_url, token=token, module="versions")
        if not call.ok or not isinstance(call.data, list):
            raise HandshakeError(protocol.UNABLE_TO_USE_CLIENT_API, f"Could not GET versions at {versions_url}")
        listed = {v.get("version"): v for v in call.data if isinstance(v, dict) and isinstance(v.get("url"), str)}
        wanted = list(wires) if wires is not None else self.offered()
        wire = next((w for w in wanted if w.version in listed), None)
        if wire is None:
            names = ", ".join(w.version for w in wanted)
            raise HandshakeError(protocol.UNSUPPORTED_VERSION, f"None of {names} at {versions_url}")
        match = listed[wire.version]
        details = self.peer.request("GET", match["url"], token=token, module="versions")
        if not details.ok or not isinstance(details.data, dict) or not isinstance(details.data.get("endpoints"), list):
            raise HandshakeError(protocol.UNABLE_TO_USE_CLIENT_API, f"Could not GET version details at {match['url']}")
        endpoints = [e for e in details.data["endpoints"] if isinstance(e, dict) and "identifier" in e and "url" in e]
        if not any(e["identifier"] == "credentials" for e in endpoints):
            raise HandshakeError(protocol.NO_MATCHING_ENDPOINTS, "The EMSP lists no credentials endpoint")
        missing = [
            m for m in ("locations", "sessions", "cdrs", "tariffs") if not any(e["identifier"] == m for e in endpoints)
        ]
        if missing:
            log.info("the EMSP has no receiver for %s; those pushes will be skipped", ", ".join(missing))
        return wire, match["url"], endpoints

    # client side --------------------------------------------------------------------------

    def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Initiate the handshake with the EMSP's token A; returns the EMSP's credentials."""
        with self._handshake:
            if self.state.registered:
                raise HandshakeError(protocol.CLIENT_ERROR, "Already registered; unregister first")
            wire, version_url, endpoints = self.fetch_endpoints(versions_url, token_a)
            credentials_url = next(e["url"] for e in endpoints if e["identifier"] == "credentials")
            token_b = new_token()
            self.state.pending_token = token_b
            try:
                call = self.peer.request(
                    "POST", credentials_url, token=token_a, module="credentials", body=self.own(token_b, wire)
                )
            finally:
                self.state.pending_token = None
            answer = call.data
            if not call.ok or not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
                outcome = call.error or f"HTTP {call.http_status}, OCPI {call.status_code}"
                raise HandshakeError(
                    protocol.UNABLE_TO_USE_CLIENT_API, f"Credentials POST to {credentials_url} failed: {outcome}"
                )
            state = self.state
            state.registered = True
            state.inbound_token = token_b
            state.outbound_token = answer["token"]
            state.peer_versions_url = versions_url
            state.peer_version_url = version_url
            state.peer_endpoints = endpoints
            state.peer_roles = wire.peer_roles(answer) or []
            self._use(wire)
            self._save()
        log.info("registered with the EMSP at %s (OCPI %s)", versions_url, wire.version)
        return answer

    def rotate(self) -> dict[str, Any]:
        """PUT fresh credentials to the EMSP (new token for it, and a new one back)."""
        with self._handshake:
            state = self.state
            url = self.endpoint("credentials", "SENDER") or self.endpoint("credentials", "RECEIVER")
            if not state.registered or url is None or state.outbound_token is None:
                raise HandshakeError(protocol.CLIENT_ERROR, "Not registered")
            token_b = new_token()
            state.pending_token = token_b
            try:
                call = self.peer.request(
                    "PUT", url, token=state.outbound_token, module="credentials", body=self.own(token_b)
                )
            finally:
                state.pending_token = None
            answer = call.data
            if not call.ok or not isinstance(answer, dict) or not isinstance(answer.get("token"), str):
                raise HandshakeError(protocol.UNABLE_TO_USE_CLIENT_API, f"Credentials PUT to {url} failed")
            state.inbound_token = token_b
            state.outbound_token = answer["token"]
            state.peer_roles = self.wire.peer_roles(answer) or state.peer_roles
            self._save()
        log.info("credentials rotated with the EMSP")
        return answer

    def unregister(self) -> None:
        """DELETE our credentials at the EMSP and forget the connection."""
        with self._handshake:
            url = self.endpoint("credentials", "SENDER") or self.endpoint("credentials", "RECEIVER")
            if self.state.registered and url and self.state.outbound_token:
                self.peer.request("DELETE", url, token=self.state.outbound_token, module="credentials")
            self._forget()
        log.info("unregistered from the EMSP")
