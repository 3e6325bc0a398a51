"""`Hub`: a roaming hub in front of several simulated CPOs, for testing an EMSP's hub support.

The EMSP sees one OCPI 2.2.1 platform whose credentials carry the role HUB (its own party, NL/HUB by
default). Behind it run `HubConfig.cpos` `Simulator`s, each its own CPO party (NL/AAA, BE/BBB, DE/CCC, ...)
with its own network, location and session ids. Each registered with the hub's inner face (`/inner/...`)
at start, exactly as it would with an EMSP, so a CPO behind the hub is the same simulator as a direct one.

Towards the EMSP the hub answers what only a hub knows (versions, credentials, its HubClientInfo list, GET
ALL lists merged across its parties, broadcast token pushes) and forwards what is addressed to one party
(`OCPI-to`) to that CPO. Towards the CPOs it plays the EMSP: whatever they send to its inner face (pushes,
real-time authorizations, CommandResults, reads of a stored CDR) is relayed to the EMSP with the hub's token,
`OCPI-from` the CPO's party and `OCPI-to` the EMSP's, by rewriting the URL prefix; URLs in the way (a
command's `response_url`, a CDR's `Location`) are swapped for relay URLs on the hub. Every forwarded leg gets
a new `X-Request-ID` and keeps the `X-Correlation-ID` (spec, transport and format, unique message IDs).
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from cposim import protocol
from cposim.chaos import Chaos
from cposim.config import ChaosConfig, SimConfig
from cposim.credentials import Caller, Credentials
from cposim.endpoints import RECEIVER_MODULES, SENDER_MODULES, Rejected, Request
from cposim.outbox import Job, Outbox
from cposim.peer import Call, Peer
from cposim.protocol import Response
from cposim.server import Server
from cposim.simulator import Simulator
from cposim.state import Store
from cposim.wires import wire_for

log = logging.getLogger("cposim")

VERSIONS = ("2.2.1", "2.3.0")
# The CPOs behind the hub take these countries in turn (each is also the region of its network).
COUNTRIES = ("NL", "BE", "DE")
ROUTING_HEADERS = ("OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id")
# What the CPOs send to the hub's inner face, by module: the EMSP interface it goes to.
RELAYED = {"locations": "RECEIVER", "tariffs": "RECEIVER", "sessions": "RECEIVER", "cdrs": "RECEIVER"}
RELAYED["tokens"] = "SENDER"  # real-time authorization
# In 2.3.0 also the CPOs' invoice reconciliation records (cposim.invoicing).
RELAYED_230 = {**RELAYED, "invoicereconciliation": "RECEIVER"}
# An EMSP that registered with us stores our HUB role only after it has read our answer, so the ClientInfo
# PUTs that follow at once may come too early for it: they are tried again, a real hub's behaviour.
CLIENT_INFO_ATTEMPTS = 25
CLIENT_INFO_RETRY_SECONDS = 0.2

Party = tuple[str, str]


def cpo_party(index: int) -> Party:
    """The party of the `index`-th CPO behind the hub: NL/AAA, BE/BBB, DE/CCC, NL/DDD, ..."""
    return COUNTRIES[index % len(COUNTRIES)], chr(ord("A") + index) * 3


@dataclass
class HubConfig:
    """A hub and the CPOs behind it; the same config gives the same networks."""

    cpos: int = 3
    # Locations per CPO.
    locations: int = 10
    seed: int = 42
    country_code: str = "NL"
    party_id: str = "HUB"
    name: str = "Simulated Hub"
    website: str = "https://hub.example.com"
    host: str = "127.0.0.1"
    port: int = 0
    # URL the hub advertises to the EMSP; defaults to http://host:port. The CPOs reach it on loopback.
    public_url: str | None = None
    # The hub's maximum page size (X-Limit) for the lists it merges and its HubClientInfo list.
    page_limit: int = 1000
    token_a: str | None = None
    # Frozen simulated clock of every CPO (see SimConfig.start_time).
    start_time: datetime | None = None
    request_timeout: float = 10.0
    # "2.2.1" (credentials role HUB) or "2.3.0" (the parties behind the hub in `roles`, the hub's own party in
    # `hub_party_id`); the CPOs behind it speak the same version.
    ocpi_version: str = "2.2.1"
    # More SimConfig fields for every CPO, e.g. {"page_limit": 4, "wrong_total_share": 0.1}.
    cpo_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Client:
    """A CPO behind the hub, and the hub's connection with it (the hub is its EMSP)."""

    sim: Simulator
    link: Credentials
    status: str = "PLANNED"
    last_updated: str = field(default_factory=lambda: protocol.format_dt(protocol.utc_now()))

    @property
    def party(self) -> Party:
        return self.sim.config.country_code, self.sim.config.party_id

    def client_info(self) -> dict[str, Any]:
        country_code, party_id = self.party
        return {
            "party_id": party_id,
            "country_code": country_code,
            "role": "CPO",
            "status": self.status,
            "last_updated": self.last_updated,
        }

    def set_status(self, status: str) -> None:
        self.status = status
        self.last_updated = protocol.format_dt(protocol.utc_now())


@dataclass(frozen=True)
class _Relay:
    url: str
    module: str


class Hub:
    """A HUB in front of `config.cpos` simulated CPOs; see cposim/README.md ("Hub") for the full API."""

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config = config or HubConfig()
        if not 1 <= config.cpos <= 26:
            raise ValueError("a hub has 1 to 26 CPOs behind it")
        if config.ocpi_version not in VERSIONS:
            raise ValueError(f"a hub speaks {' or '.join(VERSIONS)}, not {config.ocpi_version!r}")
        self.version = config.ocpi_version
        self.party: Party = (config.country_code.upper(), config.party_id.upper())
        # The hub serves no locations of its own; its Wire is for credentials and endpoints.
        self.wire = wire_for(self.version, lambda _location_id: None)
        self.peer = Peer(
            own_party=self.party,
            chaos=Chaos(ChaosConfig(), config.seed),
            wire=self.wire,
            timeout=config.request_timeout,
        )
        own = {
            "role": "HUB",
            "country_code": self.party[0],
            "party_id": self.party[1],
            "business_details": {"name": config.name, "website": config.website},
        }
        roles = [own]
        hub_party_id = None
        if self.version == "2.3.0":
            # 2.3.0 has no role HUB: a hub lists the parties reachable through it and names itself in hub_party_id.
            # Towards the CPOs (the inner face) it is their EMSP.
            own = {**own, "role": "EMSP"}
            roles = [
                {
                    "role": "CPO",
                    "country_code": cc,
                    "party_id": pid,
                    "business_details": {
                        "name": f"Simulated CPO {pid}",
                        "website": f"https://{pid.lower()}.example.com",
                    },
                }
                for cc, pid in (cpo_party(index) for index in range(config.cpos))
            ]
            hub_party_id = "".join(self.party)
        self.credentials = Credentials(
            store=Store(),
            peer=self.peer,
            wire=self.wire,
            roles=roles,
            versions_url=lambda: self.versions_url,
            token_a=config.token_a,
            hub_party_id=hub_party_id,
        )
        self._clients = [
            _Client(
                sim=Simulator(self._cpo_config(index)),
                link=Credentials(
                    store=Store(),
                    peer=self.peer,
                    wire=self.wire,
                    roles=[own],
                    versions_url=lambda: self.inner_versions_url,
                    token_a=None,
                ),
            )
            for index in range(config.cpos)
        ]
        self.outbox = Outbox()
        self._stopping = threading.Event()
        self._relays: dict[str, _Relay] = {}
        self._relay_numbers = itertools.count(1)
        self._relay_lock = threading.Lock()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def _cpo_config(self, index: int) -> SimConfig:
        config = self.config
        country_code, party_id = cpo_party(index)
        options: dict[str, Any] = {
            "seed": config.seed + index,
            "locations": config.locations,
            "country_code": country_code,
            "party_id": party_id,
            "operator_name": f"Simulated CPO {party_id}",
            "operator_website": f"https://{party_id.lower()}.example.com",
            "regions": (country_code,),
            # Ids of their own, so that one names one object across the hub (AAA-LOC000001, AAA-S000001).
            "location_id_prefix": f"{party_id}-LOC",
            "session_id_prefix": f"{party_id}-S",
            "start_time": config.start_time,
            "request_timeout": config.request_timeout,
            "ocpi_version": config.ocpi_version,
            "host": "127.0.0.1",
            "port": 0,
        }
        options.update(config.cpo_options)
        return SimConfig(**options)

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> Hub:
        """Serve, start the CPOs and let each register with the hub's inner face."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = Server((self.config.host, self.config.port), self, self.outbox.hold)
        self.outbox.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="cposim-hub", daemon=True
        )
        self._thread.start()
        for client in self._clients:
            client.sim.start()
            client.sim.register_with(self.inner_versions_url, client.link.state.token_a)
        log.info(
            "hub %s/%s serving OCPI %s at %s (token A %s) for %s",
            *self.party,
            self.version,
            self.versions_url,
            self.token_a,
            ", ".join("/".join(c.party) for c in self._clients),
        )
        return self

    def stop(self) -> None:
        self._stopping.set()
        for client in self._clients:
            client.sim.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.outbox.stop()

    def __enter__(self) -> Hub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def flush(self) -> None:
        """Return once the hub's queued work (ClientInfo PUTs) and every CPO's callbacks were sent."""
        self.outbox.flush()
        for client in self._clients:
            client.sim.flush()
        self.outbox.flush()

    # where it is and who it is ------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is not None:
            return int(self._server.server_address[1])
        return self.config.port

    @property
    def base_url(self) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return f"http://{self.config.host}:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    @property
    def version_url(self) -> str:
        return f"{self.base_url}/ocpi/{self.version}"

    @property
    def _inner_base(self) -> str:
        host = "127.0.0.1" if self.config.host in ("", "0.0.0.0") else self.config.host  # noqa: S104 # nosec B104 - a check
        return f"http://{host}:{self.port}/inner"

    @property
    def inner_versions_url(self) -> str:
        """Where the CPOs behind the hub registered (the hub's EMSP face)."""
        return f"{self._inner_base}/versions"

    @property
    def inner_version_url(self) -> str:
        return f"{self._inner_base}/{self.version}"

    @property
    def cpos(self) -> list[Simulator]:
        """The CPOs behind the hub, in party order (NL/AAA, BE/BBB, DE/CCC, ...)."""
        return [client.sim for client in self._clients]

    @property
    def parties(self) -> list[Party]:
        return [client.party for client in self._clients]

    @property
    def token_a(self) -> str:
        return self.credentials.state.token_a

    @property
    def is_registered(self) -> bool:
        return self.credentials.state.registered

    @property
    def inbound_token(self) -> str | None:
        return self.credentials.state.inbound_token

    @property
    def outbound_token(self) -> str | None:
        return self.credentials.state.outbound_token

    @property
    def calls(self) -> list[Call]:
        """Every call the hub made (to the EMSP and to its CPOs), with the headers it sent, oldest first."""
        return list(self.peer.calls)

    def client_infos(self) -> list[dict[str, Any]]:
        """The hub's HubClientInfo: one ClientInfo per CPO behind it."""
        return [client.client_info() for client in self._clients]

    # credentials with the EMSP --------------------------------------------------------------

    def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Initiate the handshake with the EMSP, then PUT it a ClientInfo per party behind us."""
        answer = self.credentials.register_with(versions_url, token_a)
        self._announce(self._clients)
        return answer

    def unregister(self) -> None:
        self.credentials.unregister()

    def set_client_status(self, party: Party, status: str) -> None:
        """Change what the hub says of a party (CONNECTED, OFFLINE, PLANNED, SUSPENDED) and PUT it to the EMSP."""
        client = self._client_of(party)
        if client is None:
            raise KeyError(f"no party {party[0]}/{party[1]} behind the hub")
        client.set_status(status)
        self._announce([client])

    def _announce(self, clients: list[_Client]) -> None:
        """PUT the ClientInfo of `clients` to the EMSP's hubclientinfo Receiver, if it has one."""
        url = self.credentials.endpoint("hubclientinfo", "RECEIVER")
        token = self.credentials.state.outbound_token
        if url is None or token is None or not self.is_registered:
            log.info("the EMSP has no hubclientinfo Receiver (or none is connected); ClientInfo not sent")
            return
        for client in clients:
            target = _join(url, list(client.party))
            for _attempt in range(CLIENT_INFO_ATTEMPTS):
                call = self.peer.request("PUT", target, token=token, module="hubclientinfo", body=client.client_info())
                if call.ok or self._stopping.wait(CLIENT_INFO_RETRY_SECONDS):
                    break
            else:
                log.warning("the EMSP did not take the ClientInfo of %s/%s", *client.party)

    # HTTP entry point -----------------------------------------------------------------------

    def dispatch(self, request: Request) -> tuple[Response | None, Job | None]:
        parts = [p for p in request.path.split("/") if p]
        try:
            if parts[:1] == ["ocpi"]:
                return self._outer(parts[1:], request)
            if parts[:1] == ["inner"]:
                return self._inner(parts[1:], request)
        except Rejected as rejected:
            return rejected.response, None
        return Response.error(404, protocol.CLIENT_ERROR, "Unknown path"), None

    # the EMSP's side ------------------------------------------------------------------------

    def _outer(self, parts: list[str], request: Request) -> tuple[Response, Job | None]:
        caller = self.credentials.identify(request.headers.get("Authorization"))
        if parts == ["versions"]:
            _allow(caller, Caller.TOKEN_A, Caller.PEER)
            _only(request, "GET")
            return Response.ok([{"version": self.version, "url": self.version_url}]), None
        if not parts or parts[0] != self.version:
            return Response.error(404, protocol.UNSUPPORTED_VERSION, "Unsupported version"), None
        if len(parts) == 1:
            _allow(caller, Caller.TOKEN_A, Caller.PEER)
            _only(request, "GET")
            return Response.ok(self._details()), None
        module, rest = parts[1], parts[2:]
        if module == "credentials" and not rest:
            stale = (Caller.STALE_TOKEN_A,) if request.method == "POST" else ()
            _allow(caller, Caller.TOKEN_A, Caller.PEER, *stale)
            response = self.credentials.handle(request.method, caller, _json(request))
            connected = request.method in ("POST", "PUT") and response.status_code == protocol.SUCCESS
            return response, ((lambda: self._announce(self._clients)) if connected else None)
        _allow(caller, Caller.PEER)
        if module == "hubclientinfo" and not rest:
            _only(request, "GET")
            return self._page(self.client_infos(), request, f"{self.version_url}/hubclientinfo"), None
        if module not in SENDER_MODULES + RECEIVER_MODULES:
            return Response.error(404, protocol.CLIENT_ERROR, "Unknown module"), None
        response = self._route(module, rest, request)
        if "OCPI-from-country-code" not in response.headers:  # answered by the hub itself
            _set_routing(response, self.party, _party(request, "from") or self.credentials.peer_party())
        return response, None

    def _details(self) -> dict[str, Any]:
        endpoint, url = self.wire.endpoint, self.version_url
        endpoints = [endpoint("credentials", "SENDER", f"{url}/credentials")]
        endpoints += [endpoint(m, "SENDER", f"{url}/{m}") for m in SENDER_MODULES]
        endpoints += [endpoint(m, "RECEIVER", f"{url}/{m}") for m in RECEIVER_MODULES]
        endpoints.append(endpoint("hubclientinfo", "SENDER", f"{url}/hubclientinfo"))
        return {"version": self.version, "endpoints": endpoints}

    def _route(self, module: str, rest: list[str], request: Request) -> Response:
        """Addressed to a party: forwarded to it. To the hub: a broadcast (token PUT/PATCH) or GET ALL."""
        to = _party(request, "to")
        if to is not None and to != self.party:
            client = self._client_of(to)
            if client is None:
                return Response.error(404, protocol.CLIENT_ERROR, f"No party {to[0]}/{to[1]} behind this hub")
            return self._forward(client, module, rest, request)
        if module == "tokens" and request.method in ("PUT", "PATCH"):
            return self._broadcast(module, rest, request)
        if module in SENDER_MODULES and not rest and request.method == "GET":
            return self._merged_list(module, request)
        return Response.error(
            400, protocol.INVALID_PARAMETERS, "Address one party behind the hub with OCPI-to-country-code/party-id"
        )

    def _forward(self, client: _Client, module: str, rest: list[str], request: Request) -> Response:
        """Pass the request on to the CPO it is addressed to, and its answer back (routing headers end to end)."""
        base = client.link.endpoint(module, "RECEIVER" if module in RECEIVER_MODULES else "SENDER")
        token = client.link.state.outbound_token
        if base is None or token is None:
            return Response.error(404, protocol.CLIENT_ERROR, f"{client.party[0]}/{client.party[1]} has no {module}")
        body = _json(request)
        if module == "commands" and isinstance(body, dict) and isinstance(body.get("response_url"), str):
            # The CPO sends its CommandResult to the hub, which knows where the EMSP wants it.
            body = {**body, "response_url": self._relay_url(body["response_url"], module)}
        sender = _party(request, "from") or self.credentials.peer_party()
        call = self.peer.request(
            request.method,
            _join(base, rest),
            token=token,
            module=module,
            body=body,
            params=request.query or None,
            headers=_leg(request, sender, client.party),
        )
        response = _answer(call)
        link = call.headers.get("Link")
        inner_version_url = client.link.state.peer_version_url
        if link and inner_version_url:
            response.headers["Link"] = link.replace(inner_version_url, self.version_url)
        return response

    def _broadcast(self, module: str, rest: list[str], request: Request) -> Response:
        """A token PUT/PATCH addressed to the hub goes to every CPO behind it, sent as from the hub (spec:
        broadcast push). One CPO refusing it makes the answer that refusal, so the EMSP sends it again."""
        body = _json(request)
        answers = []
        for client in self._clients:
            base, token = client.link.endpoint(module, "RECEIVER"), client.link.state.outbound_token
            if base is None or token is None:
                continue
            answers.append(
                self.peer.request(
                    request.method,
                    _join(base, rest),
                    token=token,
                    module=module,
                    body=body,
                    params=request.query or None,
                    headers=_leg(request, self.party, client.party),
                )
            )
        refused = next((call for call in answers if not call.ok), None)
        if refused is not None:
            return _answer(refused, routing=False)
        return Response.ok(http_status=201 if any(call.http_status == 201 for call in answers) else 200)

    def _merged_list(self, module: str, request: Request) -> Response:
        """GET ALL: the CPOs' lists one after the other (each object keeps its own party), paged by the hub.
        Each CPO is asked only for the slice of its list that falls on the page, plus its count."""
        offset, limit, filters = self._paging(request)
        page: list[Any] = []
        total = 0
        for client in self._clients:
            base, token = client.link.endpoint(module, "SENDER"), client.link.state.outbound_token
            if base is None or token is None:
                continue
            local = max(0, offset - total)
            while True:
                need = limit - len(page)
                call = self.peer.request(
                    "GET",
                    base,
                    token=token,
                    module=module,
                    params={**filters, "offset": str(local), "limit": str(max(need, 1))},
                    headers=_leg(request, self.party, client.party),
                )
                if not call.ok or not isinstance(call.data, list):
                    return _answer(call, routing=False)
                count = _count(call.headers.get("X-Total-Count"), local + len(call.data))
                taken = call.data[:need] if need > 0 else []
                page += taken
                local += len(taken)
                if not taken or local >= count or len(page) >= limit:
                    break
            total += count
        return self._page_response(page, total, offset, limit, filters, f"{self.version_url}/{module}")

    def _page(self, objects: list[dict[str, Any]], request: Request, url: str) -> Response:
        """A list the hub holds itself, filtered and paged like every OCPI list."""
        offset, limit, filters = self._paging(request)
        try:
            date_from = protocol.parse_dt(filters["date_from"]) if "date_from" in filters else None
            date_to = protocol.parse_dt(filters["date_to"]) if "date_to" in filters else None
        except ValueError:
            raise Rejected(Response.error(400, protocol.INVALID_PARAMETERS, "Invalid date_from or date_to")) from None
        matching = [
            o
            for o in objects
            if (date_from is None or protocol.parse_dt(o["last_updated"]) >= date_from)
            and (date_to is None or protocol.parse_dt(o["last_updated"]) < date_to)
        ]
        return self._page_response(matching[offset : offset + limit], len(matching), offset, limit, filters, url)

    def _paging(self, request: Request) -> tuple[int, int, dict[str, str]]:
        query = request.query
        try:
            offset, limit = int(query.get("offset") or 0), int(query.get("limit") or 0)
        except ValueError:
            offset = limit = -1
        if offset < 0 or limit < 0:
            raise Rejected(Response.error(400, protocol.INVALID_PARAMETERS, "Invalid offset or limit"))
        limit = min(limit or self.config.page_limit, self.config.page_limit)
        return offset, limit, {k: v for k, v in query.items() if k in ("date_from", "date_to") and v}

    def _page_response(
        self, page: list[Any], total: int, offset: int, limit: int, filters: dict[str, str], url: str
    ) -> Response:
        response = Response(raw_data=protocol.dumps(page))
        response.headers["X-Total-Count"] = str(total)
        response.headers["X-Limit"] = str(self.config.page_limit)
        if offset + len(page) < total:
            params = {**filters, "offset": str(offset + len(page)), "limit": str(limit)}
            response.headers["Link"] = f'<{url}?{urlencode(params, safe=":", quote_via=quote)}>; rel="next"'
        return response

    # the CPOs' side -------------------------------------------------------------------------

    def _inner(self, parts: list[str], request: Request) -> tuple[Response, Job | None]:
        client, caller = self._inner_caller(request)
        if parts == ["versions"]:
            _allow(caller, Caller.TOKEN_A, Caller.PEER)
            return Response.ok([{"version": self.version, "url": self.inner_version_url}]), None
        if len(parts) == 2 and parts[0] == "relay":
            _allow(caller, Caller.PEER)
            relay = self._relays.get(parts[1])
            if relay is None or client is None:
                return Response.error(404, protocol.CLIENT_ERROR, "Unknown relay"), None
            return self._relay(client, relay.url, relay.module, request), None
        if not parts or parts[0] != self.version:
            return Response.error(404, protocol.UNSUPPORTED_VERSION, "Unsupported version"), None
        if len(parts) == 1:
            _allow(caller, Caller.TOKEN_A, Caller.PEER)
            return Response.ok(self._inner_details()), None
        module, rest = parts[1], parts[2:]
        if module == "credentials" and not rest and client is not None:
            _allow(caller, Caller.TOKEN_A, Caller.PEER, Caller.STALE_TOKEN_A)
            response = client.link.handle(request.method, caller, _json(request))
            if response.status_code != protocol.SUCCESS or request.method not in ("POST", "PUT", "DELETE"):
                return response, None
            client.set_status("OFFLINE" if request.method == "DELETE" else "CONNECTED")
            return response, ((lambda: self._announce([client])) if self.is_registered else None)
        _allow(caller, Caller.PEER)
        role = self._relayed.get(module)
        if role is None or client is None:
            return Response.error(404, protocol.CLIENT_ERROR, "Unknown module"), None
        base = self.credentials.endpoint(module, role)
        if base is None:
            return Response.error(404, protocol.CLIENT_ERROR, f"The EMSP has no {module} {role}"), None
        return self._relay(client, _join(base, rest), module, request), None

    @property
    def _relayed(self) -> dict[str, str]:
        return RELAYED_230 if self.version == "2.3.0" else RELAYED

    def _inner_caller(self, request: Request) -> tuple[_Client | None, str]:
        authorization = request.headers.get("Authorization")
        for client in self._clients:
            caller = client.link.identify(authorization)
            if caller != Caller.NONE:
                return client, caller
        return None, Caller.NONE

    def _inner_details(self) -> dict[str, Any]:
        endpoint, url = self.wire.endpoint, self.inner_version_url
        endpoints = [endpoint("credentials", "SENDER", f"{url}/credentials")]
        endpoints += [endpoint(m, role, f"{url}/{m}") for m, role in self._relayed.items()]
        return {"version": self.version, "endpoints": endpoints}

    def _relay(self, client: _Client, url: str, module: str, request: Request) -> Response:
        """What a CPO sends the hub, sent on to the EMSP as from that CPO's party; the answer comes back."""
        token = self.credentials.state.outbound_token
        if not self.is_registered or token is None:
            return Response.error(503, protocol.UNABLE_TO_USE_CLIENT_API, "No EMSP is connected to the hub")
        call = self.peer.request(
            request.method,
            url,
            token=token,
            module=module,
            body=_json(request),
            params=request.query or None,
            headers=_leg(request, client.party, self.credentials.peer_party()),
        )
        response = _answer(call)
        location = call.headers.get("Location")
        if location:  # where the EMSP keeps a CDR: the CPO reads it through the hub
            response.headers["Location"] = self._relay_url(location, module)
        return response

    def _relay_url(self, url: str, module: str) -> str:
        with self._relay_lock:
            key = f"R{next(self._relay_numbers):06d}"
            self._relays[key] = _Relay(url=url, module=module)
        return f"{self._inner_base}/relay/{key}"

    def _client_of(self, party: Party) -> _Client | None:
        wanted = (party[0].upper(), party[1].upper())
        return next((c for c in self._clients if (c.party[0].upper(), c.party[1].upper()) == wanted), None)


# helpers ------------------------------------------------------------------------------------


def _allow(caller: str, *allowed: str) -> None:
    if caller not in allowed:
        raise Rejected(Response.error(401, protocol.CLIENT_ERROR, "Unauthorized"))


def _only(request: Request, method: str) -> None:
    if request.method != method:
        raise Rejected(Response.error(405, protocol.CLIENT_ERROR, f"{request.method} not allowed here"))


def _json(request: Request) -> Any:
    if not request.body.strip():
        return None
    try:
        return protocol.loads(request.body)
    except ValueError:
        raise Rejected(Response.error(400, protocol.CLIENT_ERROR, "Body is not valid JSON")) from None


def _party(request: Request, side: str) -> Party | None:
    """The OCPI-from (`side` "from") or OCPI-to party of a request, upper case; None when not given."""
    country_code = request.headers.get(f"OCPI-{side}-country-code")
    party_id = request.headers.get(f"OCPI-{side}-party-id")
    return (country_code.upper(), party_id.upper()) if country_code and party_id else None


def _leg(request: Request, sender: Party | None, receiver: Party | None) -> dict[str, str]:
    """Headers of a forwarded leg: a new X-Request-ID, the same X-Correlation-ID, and the parties."""
    correlation = request.headers.get("X-Correlation-ID") or request.headers.get("X-Request-ID")
    headers = {"X-Request-ID": protocol.new_request_id(), "X-Correlation-ID": correlation or protocol.new_request_id()}
    if sender is not None:
        headers["OCPI-from-country-code"], headers["OCPI-from-party-id"] = sender
    if receiver is not None:
        headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = receiver
    return headers


def _set_routing(response: Response, sender: Party, receiver: Party | None) -> None:
    response.headers["OCPI-from-country-code"], response.headers["OCPI-from-party-id"] = sender
    if receiver is not None:
        response.headers["OCPI-to-country-code"], response.headers["OCPI-to-party-id"] = receiver


def _answer(call: Call, *, routing: bool = True) -> Response:
    """The answer to a forwarded call as ours: its status, data, paging and (`routing`) routing headers."""
    if call.error is not None or call.http_status is None:
        return Response.error(502, protocol.SERVER_ERROR, f"Could not use {call.url}: {call.error}")
    status_code = call.status_code
    if status_code is None:
        status_code = protocol.SUCCESS if call.http_status < 300 else protocol.SERVER_ERROR
    response = Response(
        http_status=call.http_status,
        status_code=status_code,
        status_message=call.status_message or "",
        data=call.data,
        has_data=call.data is not None,
    )
    names = ("X-Total-Count", "X-Limit", *(ROUTING_HEADERS if routing else ()))
    for name in names:
        value = call.headers.get(name)
        if value:
            response.headers[name] = value
    return response


def _join(base: str, parts: list[str]) -> str:
    return "/".join([base.rstrip("/"), *(quote(p, safe="") for p in parts)])


def _count(header: str | None, default: int) -> int:
    try:
        return int(header) if header else default
    except ValueError:
        return default
