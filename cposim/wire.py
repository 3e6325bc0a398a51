"""Everything that differs between the OCPI versions the simulator speaks, kept in one place.

Inside, the simulator keeps its objects (locations, tariffs, sessions, CDRs, tokens, commands) in
2.2.1 shape. A `Wire` stands at every edge: what the simulator serves or pushes goes through it on
the way out, what the EMSP sends (credentials, tokens, commands) on the way in. `Wire` itself is
2.2.1, where objects pass unchanged; `cposim.wire211.Wire211` maps them to and from 2.1.1 and
`cposim.wire230.Wire230` to 2.3.0. `cposim.wires.wire_for` picks one by version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cposim import protocol

VERSIONS = ("2.1.1", "2.2.1", "2.3.0")

# Renders one of our locations (2.2.1 shape) by id; None for an unknown id.
Locate = Callable[[str], dict[str, Any] | None]


class Wire:
    """OCPI 2.2.1: the simulator's own shapes, so every mapping is the identity."""

    version = "2.2.1"
    # Transport: `Authorization: Token <base64>` (unless configured raw), X-Request-ID and
    # X-Correlation-ID, OCPI-from-*/OCPI-to-* routing headers on functional modules.
    base64_token = True
    request_ids = True
    routing_headers = True
    command_types: tuple[str, ...] = (
        "START_SESSION",
        "STOP_SESSION",
        "RESERVE_NOW",
        "CANCEL_RESERVATION",
        "UNLOCK_CONNECTOR",
    )
    token_required: tuple[str, ...] = (
        "country_code",
        "party_id",
        "uid",
        "type",
        "contract_id",
        "issuer",
        "valid",
        "whitelist",
        "last_updated",
    )
    token_patch_needs_last_updated = True
    sessions_need_date_from = True
    charging_preferences = True
    unknown_token = protocol.UNKNOWN_TOKEN
    # Our Sender interfaces in the version details (tokens and commands are our Receivers).
    sender_modules: tuple[str, ...] = ("locations", "tariffs", "sessions", "cdrs")

    def __init__(self, locate: Locate) -> None:
        self.locate = locate

    # versions and credentials ---------------------------------------------------------------

    def endpoint(self, identifier: str, role: str, url: str) -> dict[str, str]:
        return {"identifier": identifier, "role": role, "url": url}

    def credentials(
        self, token: str, url: str, roles: list[dict[str, Any]], hub_party_id: str | None = None
    ) -> dict[str, Any]:
        """Our Credentials object; `hub_party_id` (a hub's own party, 2.3.0 only) is dropped where the version
        has no such field."""
        return {"token": token, "url": url, "roles": roles}

    # What an incoming Credentials object needs besides token and url (for the error message).
    credentials_need = "roles"

    def peer_roles(self, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The roles in the EMSP's Credentials object (2.2.1 CredentialsRole shape); None if there are none."""
        roles = body.get("roles")
        return roles if isinstance(roles, list) and roles else None

    # objects we send ----------------------------------------------------------------------

    def location(self, location: dict[str, Any]) -> dict[str, Any]:
        return location

    def evse(self, evse: dict[str, Any]) -> dict[str, Any]:
        return evse

    def connector(self, connector: dict[str, Any]) -> dict[str, Any]:
        return connector

    def tariff(self, tariff: dict[str, Any]) -> dict[str, Any]:
        return tariff

    def session(self, session: dict[str, Any]) -> dict[str, Any]:
        return session

    def session_patch(self, patch: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
        """A Session PATCH body; `session` is the whole session it patches (in the simulator's shape)."""
        return patch

    def cdr(self, cdr: dict[str, Any]) -> dict[str, Any]:
        return cdr

    def pricing_tariff(self, tariff: dict[str, Any]) -> dict[str, Any]:
        """The tariff as the EMSP can know it, which is the one the CPO must price by."""
        return tariff

    # tokens ---------------------------------------------------------------------------------

    def token_type(self, query: dict[str, str]) -> str | None:
        """The token type a Tokens receiver URL names; None when the version has no `?type=`."""
        return query.get("type") or "RFID"

    def token_in(self, token: dict[str, Any], party: tuple[str, str] | None = None) -> dict[str, Any]:
        """A Token (or a PATCH of one) from the EMSP in the simulator's own shape; `party` is the
        (country_code, party_id) of its receiver URL where the version's Token lacks them."""
        return token

    def token_out(self, token: dict[str, Any]) -> dict[str, Any]:
        return token

    # commands -------------------------------------------------------------------------------

    def command_in(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def command_response(self, result: str, timeout: int) -> dict[str, Any]:
        return {"result": result, "timeout": timeout}

    def command_result(self, result: str, message: str | None) -> dict[str, Any]:
        """The asynchronous answer POSTed to `response_url`: a CommandResult, a bare object (field notes 4)."""
        body: dict[str, Any] = {"result": result}
        if message:
            body["message"] = [{"language": "en", "text": message}]
        return body
