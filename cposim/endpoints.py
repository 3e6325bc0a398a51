"""What each URL of the simulator answers: versions, credentials, the CPO Sender interfaces
(locations, tariffs, sessions, CDRs; invoice reconciliation, 2.3.0), the CPO Receiver interfaces (tokens,
commands) and the operator's control endpoint (`/control/...`, not OCPI).

Transport-free: takes a parsed `Request`, returns a `Response` (or None to drop the connection,
for the timeout chaos) plus optional work to run after the answer was sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from cposim import protocol
from cposim.chaos import Chaos
from cposim.charging import Charging, PreferencesNotTaken
from cposim.commands import Commands
from cposim.config import SimConfig
from cposim.credentials import Caller, Credentials
from cposim.invoicing import Invoicing, InvoicingError
from cposim.network import Network, Overlay, find_connector, find_evse, render_location
from cposim.outbox import Job
from cposim.protocol import Response
from cposim.state import Store
from cposim.tariffs import TariffBook
from cposim.wire import Wire

log = logging.getLogger("cposim")

SENDER_MODULES = ("locations", "tariffs", "sessions", "cdrs")
RECEIVER_MODULES = ("tokens", "commands")
# The invoice reconciliation Sender (a 2.3.0 module) is served at /ocpi/2.3.0/... whatever version is spoken.
INVOICES = "invoicereconciliation"
INVOICES_VERSION = "2.3.0"


class Headers(Protocol):
    """Case-insensitive header lookup (what `http.client.HTTPMessage` offers)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes


class Rejected(Exception):
    """Stop handling and answer this response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_message)
        self.response = response


class _Dropped(Exception):
    """Close the connection without answering (the timeout chaos)."""


def _not_found(status_code: int = protocol.CLIENT_ERROR, message: str = "Not found") -> Rejected:
    return Rejected(Response.error(404, status_code, message))


class Endpoints:
    def __init__(
        self,
        *,
        config: SimConfig,
        network: Network,
        overlay: Overlay,
        tariffs: TariffBook,
        store: Store,
        credentials: Credentials,
        commands: Commands,
        charging: Charging,
        chaos: Chaos,
        wire: Wire,
        invoicing: Invoicing,
        base_url: Callable[[], str],
        stopping: threading.Event,
    ) -> None:
        self.config = config
        self.network = network
        self.overlay = overlay
        self.tariffs = tariffs
        self.store = store
        self.credentials = credentials
        self.commands = commands
        self.charging = charging
        self.chaos = chaos
        self.wire = wire
        self.invoicing = invoicing
        self.base_url = base_url
        self.stopping = stopping
        self._index_cache: tuple[tuple[float | None, float | None, int], list[int]] | None = None

    # entry point --------------------------------------------------------------------------

    def dispatch(self, request: Request) -> tuple[Response | None, Job | None]:
        """Answer one request; (None, None) means: drop the connection without an answer."""
        parts = [p for p in request.path.split("/") if p]
        module = parts[2] if len(parts) > 2 and parts[0] == "ocpi" else ""
        try:
            response, job = self._route(parts, request)
        except Rejected as rejected:
            response, job = rejected.response, None
        except _Dropped:
            return None, None
        if module in (*SENDER_MODULES, *RECEIVER_MODULES, INVOICES) and self.wire.routing_headers:
            self._routing_headers(request, response)
        return response, job

    def _route(self, parts: list[str], request: Request) -> tuple[Response, Job | None]:
        if parts[:1] == ["control"]:
            return self._control(parts[1:], request), None
        if len(parts) < 2 or parts[0] != "ocpi":
            raise _not_found(message="Unknown path")
        caller = self.credentials.identify(request.headers.get("Authorization"))
        offered = {wire.version: wire for wire in self.credentials.offered()}
        if parts[1] == "versions" and len(parts) == 2:
            self._allow(caller, (Caller.TOKEN_A, Caller.PEER))
            self._method(request, "GET")
            return Response.ok([{"version": v, "url": self._url(v)} for v in offered]), None
        invoices = parts[1:3] == [INVOICES_VERSION, INVOICES]
        if parts[1] not in offered and not invoices:
            raise _not_found(protocol.UNSUPPORTED_VERSION, "Unsupported version")
        if len(parts) == 2:
            self._allow(caller, (Caller.TOKEN_A, Caller.PEER))
            self._method(request, "GET")
            return Response.ok(self.version_details(offered[parts[1]])), None
        module, rest = parts[2], parts[3:]
        if module == "credentials" and not rest:
            # A stale token A may only learn that it is too late to POST (405).
            stale = (Caller.STALE_TOKEN_A,) if request.method == "POST" else ()
            self._allow(caller, (Caller.TOKEN_A, Caller.PEER, *stale))
            return self.credentials.handle(request.method, caller, self._body(request), parts[1]), None
        if parts[1] != self.wire.version and not invoices:
            # Functional modules answer in the version agreed with the EMSP only.
            raise _not_found(protocol.UNSUPPORTED_VERSION, f"Unsupported version; we speak {self.wire.version}")
        if module not in (*SENDER_MODULES, *RECEIVER_MODULES) and not invoices:
            raise _not_found(message="Unknown module")
        # Token A (and anything unknown) is only good for versions and credentials.
        self._allow(caller, (Caller.PEER,))
        if not self.credentials.state.registered:
            raise Rejected(Response.error(401, protocol.CLIENT_ERROR, "Not registered"))
        trouble = self._chaos()
        if trouble is not None:
            return trouble, None
        return self._functional(module, rest, request)

    def _chaos(self) -> Response | None:
        latency = self.chaos.latency_seconds
        if latency:
            self.stopping.wait(latency)
        trouble = self.chaos.incoming()
        if trouble == "timeout":
            log.info("chaos: holding the request for %ss, then closing", self.chaos.config.timeout_hold_seconds)
            self.stopping.wait(self.chaos.config.timeout_hold_seconds)
            raise _Dropped
        if trouble == "error":
            return Response.error(500, protocol.SERVER_ERROR, "Simulated server error")
        if trouble == "throttle":  # as rate-limiting gateways in front of CPO platforms answer
            throttled = Response.error(429, protocol.CLIENT_ERROR, "Too many requests")
            throttled.headers["Retry-After"] = str(self.chaos.config.throttle_retry_after_seconds)
            return throttled
        return None

    def _functional(self, module: str, rest: list[str], request: Request) -> tuple[Response, Job | None]:
        if module == "commands":
            self._method(request, "POST")
            if len(rest) != 1 or rest[0] not in self.wire.command_types:
                raise _not_found(message="Unknown command")
            return self.commands.receive(rest[0], self._body(request))
        if module == "tokens":
            return self._tokens(rest, request), None
        if module == INVOICES and (rest or request.method != "GET"):
            return self._invoice_receiver(rest, request), None
        if (
            module == "sessions"
            and len(rest) == 2
            and rest[1] == "charging_preferences"
            and self.wire.charging_preferences
        ):
            self._method(request, "PUT")
            return self._charging_preferences(rest[0], self._body(request)), None
        self._method(request, "GET")
        if module == "locations" and rest:
            return self._location_object(rest), None
        if rest:
            raise _not_found()
        return self._list(module, request), None

    # control: what an operator triggers (not OCPI) -------------------------------------------

    def _control(self, parts: list[str], request: Request) -> Response:
        """`POST /control/invoicing/{YYYY-MM}[?faults=unknown_cdr,left_out,double]`: run that month's invoicing
        (cposim.invoicing); `GET /control/invoicing/received`: the EMSP's records we received. Our own token A
        is the operator's key, before and after registration."""
        caller = self.credentials.identify(request.headers.get("Authorization"))
        self._allow(caller, (Caller.TOKEN_A, Caller.STALE_TOKEN_A))
        if len(parts) != 2 or parts[0] != "invoicing":
            raise _not_found(message="Unknown control path; try POST /control/invoicing/{YYYY-MM}")
        if parts[1] == "received":  # GET: the EMSP's records of its invoices to us (reverse billing)
            self._method(request, "GET")
            return Response.ok(self.invoicing.received_records())
        self._method(request, "POST")
        faults = [f.strip() for f in request.query.get("faults", "").split(",") if f.strip()]
        try:
            invoice = self.invoicing.run_monthly(parts[1], faults)
        except InvoicingError as exc:
            return Response.error(400, protocol.INVALID_PARAMETERS, str(exc))
        return Response.ok(
            {
                "record": invoice.record,
                "sent": invoice.sent,
                "unknown_cdr": invoice.unknown_cdr,
                "left_out": invoice.left_out,
                "double": invoice.double,
                "pushed": invoice.pushed,
            }
        )

    # small helpers ------------------------------------------------------------------------

    def _url(self, *parts: str) -> str:
        return "/".join([self.base_url(), "ocpi", *parts])

    @staticmethod
    def _allow(caller: str, allowed: Sequence[str]) -> None:
        if caller not in allowed:
            raise Rejected(Response.error(401, protocol.CLIENT_ERROR, "Unauthorized"))

    @staticmethod
    def _method(request: Request, *allowed: str) -> None:
        if request.method not in allowed:
            raise Rejected(Response.error(405, protocol.CLIENT_ERROR, f"{request.method} not allowed here"))

    @staticmethod
    def _body(request: Request) -> Any:
        if not request.body.strip():
            return None
        try:
            return protocol.loads(request.body)
        except ValueError:
            raise Rejected(Response.error(400, protocol.CLIENT_ERROR, "Body is not valid JSON")) from None

    def _routing_headers(self, request: Request, response: Response) -> None:
        response.headers["OCPI-from-country-code"] = self.network.country_code
        response.headers["OCPI-from-party-id"] = self.network.party_id
        to_cc = request.headers.get("OCPI-from-country-code")
        to_pid = request.headers.get("OCPI-from-party-id")
        if not (to_cc and to_pid):
            party = self.credentials.peer_party()
            to_cc, to_pid = party if party else (None, None)
        if to_cc and to_pid:
            response.headers["OCPI-to-country-code"] = to_cc
            response.headers["OCPI-to-party-id"] = to_pid

    def version_details(self, wire: Wire | None = None) -> dict[str, Any]:
        wire = wire or self.wire
        version, endpoint = wire.version, wire.endpoint
        endpoints = [endpoint("credentials", "SENDER", self._url(version, "credentials"))]
        endpoints += [endpoint(m, "SENDER", self._url(version, m)) for m in wire.sender_modules]
        endpoints += [endpoint(m, "RECEIVER", self._url(version, m)) for m in RECEIVER_MODULES]
        if INVOICES in wire.sender_modules:  # both roles at one URL (direct and reverse billing)
            endpoints.append(endpoint(INVOICES, "RECEIVER", self._url(version, INVOICES)))
        return {"version": version, "endpoints": endpoints}

    # Sender interfaces: lists -------------------------------------------------------------

    def _list(self, module: str, request: Request) -> Response:
        query = request.query
        try:
            date_from = protocol.parse_dt(query["date_from"]).timestamp() if query.get("date_from") else None
            date_to = protocol.parse_dt(query["date_to"]).timestamp() if query.get("date_to") else None
            offset = int(query.get("offset") or 0)
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise Rejected(
                Response.error(400, protocol.INVALID_PARAMETERS, "Invalid date_from, date_to, offset or limit")
            ) from None
        if offset < 0 or limit < 0:
            raise Rejected(Response.error(400, protocol.INVALID_PARAMETERS, "offset and limit must not be negative"))
        if module == "sessions" and date_from is None and self.wire.sessions_need_date_from:
            raise Rejected(Response.error(400, protocol.INVALID_PARAMETERS, "date_from is required for sessions"))
        max_limit = self.config.page_limit
        limit = min(limit or max_limit, max_limit)
        if module == "locations":
            indexes = self._location_indexes(date_from, date_to)
            total = len(indexes)
            chosen = indexes[offset : offset + limit]
            page = [self.wire.location(render_location(self.network, self.overlay, i)) for i in chosen]
        else:
            objects = self._objects(module)
            matching = [o for o in objects if _in_range(o["last_updated"], date_from, date_to)]
            total = len(matching)
            outward = {
                "tariffs": self.wire.tariff,
                "sessions": self.wire.session,
                "cdrs": self.wire.cdr,
                INVOICES: _same,
            }[module]
            page = [outward(o) for o in matching[offset : offset + limit]]
        response = Response(raw_data=protocol.dumps(page))
        response.headers["X-Total-Count"] = str(total)
        response.headers["X-Limit"] = str(max_limit)
        if offset + len(page) < total:
            params = {k: v for k, v in query.items() if k in ("date_from", "date_to")}
            params.update(offset=str(offset + len(page)), limit=str(limit))
            version = INVOICES_VERSION if module == INVOICES else self.wire.version
            response.headers["Link"] = (
                f'<{self._url(version, module)}?{urlencode(params, safe=":", quote_via=quote)}>; rel="next"'
            )
        elif self.config.empty_link_on_last_page:
            response.headers["Link"] = ""
        return response

    def _objects(self, module: str) -> list[dict[str, Any]]:
        if module == "tariffs":
            return self.tariffs.all()
        if module == INVOICES:
            return self.invoicing.records()
        return list(self.store.values("session" if module == "sessions" else "cdr"))

    def _location_indexes(self, date_from: float | None, date_to: float | None) -> list[int]:
        """Indexes of listed locations in stable (creation) order, filtered on last_updated."""
        key = (date_from, date_to, self.overlay.version)
        cached = self._index_cache
        if cached is not None and cached[0] == key:
            return cached[1]
        base = self.network.base_updated
        bumps = self.overlay.location_updated
        vanished = self.overlay.vanished
        result = []
        for index, updated in enumerate(base):
            if index in vanished:
                continue
            bumped = bumps.get(index)
            if bumped is not None and bumped > updated:
                updated = bumped
            if (date_from is None or updated >= date_from) and (date_to is None or updated < date_to):
                result.append(index)
        self._index_cache = (key, result)
        return result

    # Sender interfaces: one location / EVSE / connector --------------------------------------

    def _location_object(self, rest: list[str]) -> Response:
        index = self.network.index_of(rest[0])
        if index is None or index in self.overlay.vanished or len(rest) > 3:
            raise _not_found(protocol.UNKNOWN_LOCATION, "Unknown location")
        location = render_location(self.network, self.overlay, index)
        if len(rest) == 1:
            return Response.ok(self.wire.location(location))
        evse = find_evse(location, rest[1])
        if evse is None:
            raise _not_found(protocol.UNKNOWN_LOCATION, "Unknown EVSE")
        evse = self.wire.evse(evse)
        if len(rest) == 2:
            return Response.ok(evse)
        # Found among the connectors as the version shows them (2.3.0 may show one more, see cposim.wire230).
        connector = find_connector(evse, rest[2])
        if connector is None:
            raise _not_found(protocol.UNKNOWN_LOCATION, "Unknown connector")
        return Response.ok(connector)

    # Sender interface: charging preferences --------------------------------------------------

    def _charging_preferences(self, session_id: str, body: Any) -> Response:
        if not isinstance(body, dict):
            raise Rejected(
                Response.error(400, protocol.INVALID_PARAMETERS, "Body must be a ChargingPreferences object")
            )
        if not body.get("profile_type"):
            return Response.error(200, protocol.INVALID_PARAMETERS, "Missing required field: profile_type")
        try:
            if body.get("departure_time") is not None:
                protocol.parse_dt(body["departure_time"])
            if body.get("energy_need") is not None:
                Decimal(str(body["energy_need"]))
        except (ValueError, ArithmeticError):
            return Response.error(200, protocol.INVALID_PARAMETERS, "Invalid departure_time or energy_need")
        try:
            answer = self.charging.set_preferences(session_id, body)
        except PreferencesNotTaken as exc:
            # Spec: an EVSE without CHARGING_PREFERENCES_CAPABLE is answered HTTP 404 with 2001.
            raise _not_found(protocol.INVALID_PARAMETERS, str(exc)) from None
        return Response.ok(answer)

    # Receiver interface: invoice reconciliation (reverse billing: the EMSP invoices us) ----------

    def _invoice_receiver(self, rest: list[str], request: Request) -> Response:
        """`POST {url}` a new record, `PUT`/`GET`/`DELETE {url}/{country_code}/{party_id}/{id}`: the EMSP's
        records of its invoices to us (cposim.invoicing keeps them; `Simulator.received_invoice_records`)."""
        if not rest:
            self._method(request, "POST")
        elif len(rest) == 3:
            self._method(request, "GET", "PUT", "DELETE")
        else:
            raise _not_found(message="Use /invoicereconciliation/{country_code}/{party_id}/{id}")
        peer = self.credentials.peer_party()
        if rest and peer is not None and [p.upper() for p in rest[:2]] != [p.upper() for p in peer]:
            raise _not_found(message="Not your party")
        if request.method == "GET":
            stored = self.invoicing.received(*rest)
            if stored is None:
                raise _not_found(message="Unknown invoice reconciliation record")
            return Response.ok(stored)
        if request.method == "DELETE":
            if not self.invoicing.received_delete(*rest):
                raise _not_found(message="Unknown invoice reconciliation record")
            return Response.ok(None)
        body = self._body(request)
        if not isinstance(body, dict):
            raise Rejected(
                Response.error(400, protocol.INVALID_PARAMETERS, "Body must be an InvoiceReconciliationRecord")
            )
        missing = [
            f for f in ("country_code", "party_id", "id", "invoice_id", "cdrs", "last_updated") if not body.get(f)
        ]
        if missing or not isinstance(body["cdrs"], list):
            return Response.error(
                400, protocol.INVALID_PARAMETERS, f"Missing or empty field: {(missing or ['cdrs'])[0]}"
            )
        if rest:
            mismatch = _mismatch(body, country_code=rest[0], party_id=rest[1], id=rest[2])
            if mismatch:
                return Response.error(400, protocol.INVALID_PARAMETERS, f"{mismatch} in body does not match the URL")
        elif peer is not None and _mismatch(body, country_code=peer[0], party_id=peer[1]):
            raise _not_found(message="Not your party")
        try:
            outcome = self.invoicing.receive(body)
        except ValueError:
            return Response.error(400, protocol.INVALID_PARAMETERS, "last_updated is not a DateTime")
        if outcome == "stale":
            stale = Response.ok(None)
            stale.status_message = "Not applied: we hold a newer version"
            return stale
        return Response.ok(None, http_status=201 if outcome == "created" else 200)

    # Receiver interface: tokens -------------------------------------------------------------

    def _tokens(self, rest: list[str], request: Request) -> Response:
        if len(rest) != 3:
            raise _not_found(message="Use /tokens/{country_code}/{party_id}/{uid}")
        country_code, party_id, uid = rest
        wire = self.wire
        # Tokens are kept under CC/PID/UID/TYPE; a version without `?type=` finds the token by CC/PID/UID.
        token_type = wire.token_type(request.query)
        expected = {"country_code": country_code, "party_id": party_id, "uid": uid}
        if token_type is not None:
            expected["type"] = token_type
        key, stored = self._find_token("/".join(p.upper() for p in (country_code, party_id, uid)), token_type)
        if request.method == "GET":
            if stored is None:
                raise _not_found(wire.unknown_token, "Unknown token")
            return Response.ok(wire.token_out(stored))
        body = self._body(request)
        if not isinstance(body, dict):
            raise Rejected(Response.error(400, protocol.INVALID_PARAMETERS, "Body must be a Token object"))
        if request.method == "PUT":
            missing = [f for f in wire.token_required if f not in body]
            if missing:
                return Response.error(200, protocol.INVALID_PARAMETERS, f"Missing required field: {missing[0]}")
            mismatch = _mismatch(body, **expected)
            if mismatch:
                return Response.error(200, protocol.INVALID_PARAMETERS, f"{mismatch} in body does not match the URL")
            token = wire.token_in(body, (country_code, party_id))
            new_key = key if token_type is not None else key.rpartition("/")[0] + "/" + str(token["type"])
            if new_key != key and stored is not None:
                self.store.delete("token", key)
            created = self.store.put("token", new_key, token)
            log.info(
                "token %s %s (valid=%s, whitelist=%s)",
                uid,
                "created" if created else "replaced",
                body["valid"],
                body["whitelist"],
            )
            return Response.ok(http_status=201 if created else 200)
        if request.method == "PATCH":
            if stored is None:
                raise _not_found(wire.unknown_token, "Unknown token")
            if wire.token_patch_needs_last_updated and "last_updated" not in body:
                return Response.error(200, protocol.INVALID_PARAMETERS, "Missing required field: last_updated")
            mismatch = _mismatch(body, **expected)
            if mismatch:
                return Response.error(200, protocol.INVALID_PARAMETERS, f"{mismatch} cannot change in a PATCH")
            self.store.put("token", key, {**stored, **wire.token_in(body)})
            log.info("token %s patched: %s", uid, ", ".join(sorted(body)))
            return Response.ok()
        raise Rejected(Response.error(405, protocol.CLIENT_ERROR, f"{request.method} not allowed on tokens"))

    def _find_token(self, prefix: str, token_type: str | None) -> tuple[str, Any]:
        """(key, stored token or None); without a type, the first token of any type under the prefix."""
        if token_type is not None:
            key = f"{prefix}/{token_type}"
            return key, self.store.get("token", key)
        for key, stored in self.store.items("token"):
            if key.rpartition("/")[0] == prefix:
                return key, stored
        return f"{prefix}/RFID", None


def _same(body: dict[str, Any]) -> dict[str, Any]:
    return body


def _mismatch(body: dict[str, Any], **expected: str) -> str | None:
    for field, value in expected.items():
        if field in body and str(body[field]).upper() != value.upper():
            return field
    return None


def _in_range(last_updated: str, date_from: float | None, date_to: float | None) -> bool:
    if date_from is None and date_to is None:
        return True
    moment = protocol.parse_dt(last_updated).timestamp()
    return (date_from is None or moment >= date_from) and (date_to is None or moment < date_to)
