"""`Simulator`: one simulated CPO platform, served over HTTP and driven from Python.

Every driving method is synchronous and deterministic: it first waits for queued callbacks
(`flush`), then does its pushes in the calling thread, so tests never need to sleep.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from cposim import protocol
from cposim.chaos import Chaos
from cposim.charging import Charging, ChargingError
from cposim.clock import Clock
from cposim.commands import Commands
from cposim.config import SimConfig
from cposim.credentials import Credentials
from cposim.endpoints import Endpoints
from cposim.invoicing import Invoicing, MonthlyInvoice
from cposim.network import Network, Overlay, find_connector, find_evse, render_location
from cposim.outbox import Outbox
from cposim.peer import Call, Peer
from cposim.pushes import Pusher
from cposim.server import Server
from cposim.state import Store
from cposim.tariffs import TariffBook
from cposim.wire import VERSIONS, Wire
from cposim.wires import wire_for

log = logging.getLogger("cposim")

RFID = "RFID"  # the default TokenType (a constant, so linters do not take it for a password)

# Where an EVSE goes next in `push_status_changes`, from AVAILABLE; anything else returns to AVAILABLE.
NEXT_STATUS = (("CHARGING", 60), ("BLOCKED", 15), ("OUTOFORDER", 10), ("INOPERATIVE", 10), ("UNKNOWN", 5))


@dataclass(frozen=True)
class StatusChange:
    location_id: str
    evse_uid: str
    old: str
    new: str


@dataclass
class SwipeResult:
    """Outcome of an RFID swipe: the EMSP's verdict and the session it led to, if any."""

    allowed: str | None
    session_id: str | None = None
    authorization: dict[str, Any] | None = None
    call: Call | None = None
    reason: str | None = None


@dataclass
class _Live:
    status_debt: float = 0.0
    session_debt: float = 0.0
    patch_debt: float = 0.0
    clock_debt: float = 0.0
    warned_no_tokens: bool = False
    sessions_started: int = 0


class Simulator:
    """A CPO speaking OCPI 2.2.1, 2.1.1 or 2.3.0 (`SimConfig.ocpi_version`); see cposim/README.md for the full API."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config = config or SimConfig()
        offered = (config.ocpi_version, *config.also_versions)
        unknown = [v for v in offered if v not in VERSIONS]
        if unknown:
            raise ValueError(f"unsupported OCPI version {unknown[0]!r}; choose from {', '.join(VERSIONS)}")
        if len(set(offered)) != len(offered) or (len(offered) > 1 and "2.1.1" in offered):
            raise ValueError("also_versions: other versions than ocpi_version, and not 2.1.1 (its transport differs)")
        self.store = Store(config.db_path)
        self.clock = Clock(config.start_time, on_advance=self._save_clock)
        saved_clock = self.store.get("meta", "clock")
        if saved_clock is not None:
            self.clock.resume(int(saved_clock))
        self.chaos = Chaos(config.chaos, config.seed)
        self.network = Network(
            seed=config.seed,
            size=config.locations,
            country_code=config.country_code,
            party_id=config.party_id,
            regions=config.regions,
            evse_weights=config.evse_weights,
            operator_name=config.operator_name,
            epoch=config.epoch,
            location_id_prefix=config.location_id_prefix,
        )
        self.overlay = Overlay(self.store)
        self.tariff_book = TariffBook(
            store=self.store,
            seed=config.seed,
            regions=config.regions,
            country_code=config.country_code,
            party_id=config.party_id,
            epoch=self.network.epoch,
            website=config.operator_website,
        )
        wires = [wire_for(v, self._locate, tax_included=config.tax_included) for v in offered]
        self.wire: Wire = wires[0]
        own_party = (config.country_code, config.party_id)
        self.peer = Peer(
            own_party=own_party,
            chaos=self.chaos,
            wire=self.wire,
            timeout=config.request_timeout,
            encode_token=config.encode_outgoing_token,
        )
        roles = [
            {
                "role": "CPO",
                "country_code": config.country_code,
                "party_id": config.party_id,
                "business_details": {"name": config.operator_name, "website": config.operator_website},
            }
        ]
        self.credentials = Credentials(
            store=self.store,
            peer=self.peer,
            wire=self.wire,
            roles=roles,
            versions_url=lambda: self.versions_url,
            token_a=config.token_a,
            others=wires[1:],
            on_version=self._use_wire,
        )
        self.pusher = Pusher(peer=self.peer, credentials=self.credentials, wire=self.wire, own_party=own_party)
        self.charging = Charging(
            seed=config.seed,
            network=self.network,
            overlay=self.overlay,
            tariffs=self.tariff_book,
            store=self.store,
            clock=self.clock,
            pusher=self.pusher,
            wrong_total_share=config.wrong_total_share,
            session_id_prefix=config.session_id_prefix,
        )
        self.command_handler = Commands(
            charging=self.charging,
            network=self.network,
            overlay=self.overlay,
            store=self.store,
            pusher=self.pusher,
            clock=self.clock,
            timeout=config.command_timeout,
        )
        self.invoicing = Invoicing(
            store=self.store, peer=self.peer, credentials=self.credentials, clock=self.clock, own_party=own_party
        )
        self.invoicing.start_months()
        self.outbox = Outbox(asynchronous=config.async_callbacks)
        self._stopping = threading.Event()
        self._down_port = config.port
        self.endpoints = Endpoints(
            config=config,
            network=self.network,
            overlay=self.overlay,
            tariffs=self.tariff_book,
            store=self.store,
            credentials=self.credentials,
            commands=self.command_handler,
            charging=self.charging,
            chaos=self.chaos,
            wire=self.wire,
            invoicing=self.invoicing,
            base_url=lambda: self.base_url,
            stopping=self._stopping,
        )
        self._use_wire(self.credentials.wire)  # the version agreed before a restart (with `db_path`)
        self._rng = random.Random(f"driver:{config.seed}")
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._live = _Live()

    def _use_wire(self, wire: Wire) -> None:
        """Speak `wire`'s version from now on: the handshake agreed on it (see Credentials)."""
        self.wire = self.peer.wire = self.pusher.wire = self.endpoints.wire = wire

    @property
    def ocpi_version(self) -> str:
        """The OCPI version spoken now: the one agreed with the EMSP, else the configured one."""
        return self.wire.version

    def _locate(self, location_id: str) -> dict[str, Any] | None:
        index = self.network.index_of(location_id)
        return None if index is None else render_location(self.network, self.overlay, index)

    def _save_clock(self, moment: int) -> None:
        self.store.put("meta", "clock", moment)
        if self.config.auto_invoicing and hasattr(self, "endpoints"):  # not while being built
            self._settle()
            self.invoicing.catch_up()

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> Simulator:
        """Serve in a background thread; with port 0 a free port is picked."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = Server((self.config.host, self.config.port), self.endpoints, self.outbox.hold)
        self.outbox.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="cposim-http", daemon=True
        )
        self._thread.start()
        log.info("serving OCPI %s at %s (token A %s)", self.wire.version, self.versions_url, self.token_a)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close_server()
        self.outbox.stop()
        self.store.close()

    def go_down(self) -> None:
        """Stop answering: the listening socket is closed (connections are refused), the state is kept."""
        self._down_port = self.port
        self._stopping.set()  # requests held by chaos end now
        self._close_server()

    def come_back(self) -> None:
        """Serve again, on the port we had."""
        self._stopping.clear()
        self._server = Server((self.config.host, self._down_port), self.endpoints, self.outbox.hold)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="cposim-http", daemon=True
        )
        self._thread.start()

    def _close_server(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

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
        return f"{self.base_url}/ocpi/{self.wire.version}"

    @property
    def token_a(self) -> str:
        """The token A to give the EMSP for registering with us (valid until registration)."""
        return self.credentials.state.token_a

    @property
    def is_registered(self) -> bool:
        return self.credentials.state.registered

    @property
    def inbound_token(self) -> str | None:
        """The token the EMSP must use to call us (token C, or token B if we initiated)."""
        return self.credentials.state.inbound_token

    @property
    def outbound_token(self) -> str | None:
        """The token we use to call the EMSP."""
        return self.credentials.state.outbound_token

    def flush(self) -> None:
        """Return once every queued callback has been sent, and send a push held for reordering."""
        self.outbox.flush()
        self.peer.flush_held()

    def _settle(self) -> None:
        # Driving methods wait for queued callbacks but leave a held push held: it is meant to
        # arrive after the next push, which the driving method is about to make.
        self.outbox.flush()

    # credentials --------------------------------------------------------------------------

    def register_with(self, versions_url: str, token_a: str) -> dict[str, Any]:
        """Initiate the credentials handshake with the EMSP; returns the EMSP's credentials."""
        return self.credentials.register_with(versions_url, token_a)

    def rotate_credentials(self) -> dict[str, Any]:
        return self.credentials.rotate()

    def unregister(self) -> None:
        self.credentials.unregister()

    # network ------------------------------------------------------------------------------

    def _index(self, location_id: str) -> int:
        index = self.network.index_of(location_id)
        if index is None:
            raise KeyError(f"unknown location {location_id}")
        return index

    def location_ids(self) -> list[str]:
        return [self.network.location_id(i) for i in range(self.network.size) if i not in self.overlay.vanished]

    def location(self, location_id: str) -> dict[str, Any]:
        return render_location(self.network, self.overlay, self._index(location_id))

    def push_location(self, location_id: str) -> Call | None:
        self._settle()
        return self.pusher.location(self.location(location_id))

    def push_evse(self, location_id: str, evse_uid: str) -> Call | None:
        self._settle()
        evse = find_evse(self.location(location_id), evse_uid)
        if evse is None:
            raise KeyError(f"unknown EVSE {evse_uid}")
        return self.pusher.evse(location_id, evse)

    def push_connector(self, location_id: str, evse_uid: str, connector_id: str) -> Call | None:
        self._settle()
        evse = find_evse(self.location(location_id), evse_uid)
        connector = find_connector(evse, connector_id) if evse is not None else None
        if evse is None or connector is None:
            raise KeyError(f"unknown connector {evse_uid}/{connector_id}")
        return self.pusher.connector(location_id, evse["uid"], connector)

    def set_evse_status(self, location_id: str, evse_uid: str, status: str, *, push: bool = True) -> None:
        self._settle()
        evse = find_evse(self.location(location_id), evse_uid)
        if evse is None:
            raise KeyError(f"unknown EVSE {evse_uid}")
        self.charging.set_evse_status(self._index(location_id), evse["uid"], status, push=push)

    def remove_evse(self, location_id: str, evse_uid: str) -> None:
        """Mark an EVSE REMOVED and PATCH it, the way the spec wants EVSEs deleted."""
        self.set_evse_status(location_id, evse_uid, "REMOVED")

    def push_status_changes(self, count: int) -> list[StatusChange]:
        """Change `count` random EVSE statuses (seeded) and PATCH each to the EMSP."""
        self._settle()
        busy = {(run.location_index, run.evse_uid) for run in self.charging.runs.values()}
        changes: list[StatusChange] = []
        for _ in range(count):
            for _attempt in range(50):
                index = self._rng.randrange(self.network.size)
                if index in self.overlay.vanished:
                    continue
                location = render_location(self.network, self.overlay, index)
                evse = self._rng.choice(location["evses"])
                old = evse["status"]
                if (index, evse["uid"]) in busy or old in ("REMOVED", "RESERVED"):
                    continue
                new = _weighted(self._rng, NEXT_STATUS) if old == "AVAILABLE" else "AVAILABLE"
                self.charging.set_evse_status(index, evse["uid"], new)
                changes.append(StatusChange(location["id"], evse["uid"], old, new))
                break
        return changes

    def vanish_locations(self, location_ids: list[str]) -> None:
        """Drop locations from the lists and GETs without marking anything REMOVED (a real quirk)."""
        self.overlay.vanish([self._index(i) for i in location_ids])

    def touch_locations(self, location_ids: list[str] | None = None) -> None:
        """Bump `last_updated` without changing anything (a real quirk); None = every location."""
        indexes = range(self.network.size) if location_ids is None else [self._index(i) for i in location_ids]
        self.overlay.touch(list(indexes), self.clock.epoch())

    # tariffs ------------------------------------------------------------------------------

    def tariffs(self) -> list[dict[str, Any]]:
        return self.tariff_book.all()

    def tariff(self, tariff_id: str) -> dict[str, Any]:
        tariff = self.tariff_book.get(tariff_id)
        if tariff is None:
            raise KeyError(f"unknown tariff {tariff_id}")
        return tariff

    def push_tariff(self, tariff_id: str) -> Call | None:
        self._settle()
        return self.pusher.tariff(self.tariff(tariff_id))

    def put_tariff(self, tariff: dict[str, Any], *, push: bool = True) -> Call | None:
        """Add or replace a tariff (last_updated set to now) and PUT it to the EMSP."""
        self._settle()
        body = {
            **tariff,
            "country_code": self.config.country_code,
            "party_id": self.config.party_id,
            "last_updated": protocol.format_dt(self.clock.now()),
        }
        self.tariff_book.put(body)
        return self.pusher.tariff(body) if push else None

    def delete_tariff(self, tariff_id: str, *, push: bool = True) -> Call | None:
        self._settle()
        self.tariff_book.delete(tariff_id)
        return self.pusher.tariff_delete(tariff_id) if push else None

    # charging -----------------------------------------------------------------------------

    def swipe(
        self,
        token_uid: str,
        location_id: str,
        evse_uid: str,
        *,
        token_type: str = RFID,
        connector_id: str | None = None,
    ) -> SwipeResult:
        """An RFID card at a charger: real-time authorization at the EMSP, a session if ALLOWED."""
        self._settle()
        index = self._index(location_id)
        if find_evse(self.location(location_id), evse_uid) is None:
            raise KeyError(f"unknown EVSE {evse_uid}")
        references = {"location_id": location_id, "evse_uids": [evse_uid]}
        call = self.pusher.authorize(token_uid, token_type, references)
        if call is None:
            return SwipeResult(allowed=None, reason="not registered or no tokens endpoint")
        info = call.data if isinstance(call.data, dict) else None
        allowed = info.get("allowed") if info else None
        if not call.ok or allowed != "ALLOWED" or info is None:
            log.info("swipe of %s at %s/%s: %s", token_uid, location_id, evse_uid, allowed or call.status_code)
            return SwipeResult(allowed=allowed, authorization=info, call=call, reason="not allowed")
        granted = info.get("location")
        if isinstance(granted, dict) and granted.get("evse_uids") and evse_uid not in granted["evse_uids"]:
            return SwipeResult(allowed=allowed, authorization=info, call=call, reason="EVSE not in the allowed EVSEs")
        # 2.1.1's AuthorizationInfo has no token: then the one the EMSP pushed to us says who it is.
        token: dict[str, Any] = (
            info["token"] if isinstance(info.get("token"), dict) else self.token(token_uid, token_type=token_type) or {}
        )
        party = self.credentials.peer_party() or ("", "")
        cdr_token = {
            "country_code": token.get("country_code", party[0]),
            "party_id": token.get("party_id", party[1]),
            "uid": token.get("uid", token_uid),
            "type": token.get("type", token_type),
            "contract_id": token.get("contract_id", token_uid),
        }
        try:
            session = self.charging.start(
                index=index,
                evse_uid=evse_uid,
                connector_id=connector_id,
                cdr_token=cdr_token,
                auth_method="AUTH_REQUEST",
                authorization_reference=info.get("authorization_reference"),
            )
        except ChargingError as exc:
            return SwipeResult(allowed=allowed, authorization=info, call=call, reason=str(exc))
        return SwipeResult(allowed=allowed, session_id=session["id"], authorization=info, call=call)

    def start_session(
        self,
        location_id: str,
        evse_uid: str,
        *,
        token: dict[str, Any] | None = None,
        connector_id: str | None = None,
        auth_method: str = "WHITELIST",
        authorization_reference: str | None = None,
    ) -> dict[str, Any]:
        """Start a session without asking the EMSP (a whitelisted token); returns the Session. With an
        `authorization_reference` it is, say, the charger starting a commanded session after all."""
        self._settle()
        if token is None:
            party = self.credentials.peer_party() or ("NL", "EMS")
            token = {
                "country_code": party[0],
                "party_id": party[1],
                "uid": "SIMTOKEN0001",
                "type": "RFID",
                "contract_id": f"{party[0]}-{party[1]}-C00000001-0",
            }
        return self.charging.start(
            index=self._index(location_id),
            evse_uid=evse_uid,
            connector_id=connector_id,
            cdr_token=token,
            auth_method=auth_method,
            authorization_reference=authorization_reference,
        )

    def advance(self, seconds: int) -> list[dict[str, Any]]:
        """Move simulated time forward and PATCH every active session; returns the PATCH bodies."""
        self._settle()
        self.clock.advance(seconds)
        patches = []
        for session_id in list(self.charging.runs):
            patch = self.charging.progress(session_id)
            if patch is not None:
                patches.append(patch)
        return patches

    def stop_session(self, session_id: str) -> dict[str, Any]:
        """Stop charging now: Session COMPLETED, EVSE AVAILABLE, CDR POSTed; returns the CDR."""
        self._settle()
        return self.charging.stop(session_id)

    # invoicing ----------------------------------------------------------------------------

    def run_monthly_invoicing(self, month: str | date, faults: Iterable[str] = ()) -> MonthlyInvoice:
        """Invoice the CDRs sent to the EMSP in `month` ("2026-11"): one invoice, `INV-2026-11`, and its OCPI 2.3.0
        invoice reconciliation record pushed to the EMSP and listed on our Sender; `faults` from
        `cposim.invoicing.FAULTS` ("unknown_cdr", "left_out", "double"). Raises `InvoicingError`."""
        self._settle()
        return self.invoicing.run_monthly(month, faults)

    def invoice_records(self) -> list[dict[str, Any]]:
        """The invoice reconciliation records made so far, oldest first."""
        return self.invoicing.records()

    def received_invoice_records(self) -> list[dict[str, Any]]:
        """The EMSP's invoice reconciliation records (reverse billing) on our Receiver, in arrival order."""
        return self.invoicing.received_records()

    # what the simulator holds -------------------------------------------------------------

    def tokens(self) -> list[dict[str, Any]]:
        """Tokens the EMSP pushed to us, in arrival order."""
        return self.store.values("token")

    def token(self, uid: str, *, token_type: str = RFID) -> dict[str, Any] | None:
        for key, body in self.store.items("token"):
            if key.endswith(f"/{uid.upper()}/{token_type}"):
                return dict(body)
        return None

    def sessions(self) -> list[dict[str, Any]]:
        return self.store.values("session")

    def session(self, session_id: str) -> dict[str, Any] | None:
        return self.store.get("session", session_id)

    def charging_preferences(self, session_id: str) -> dict[str, Any] | None:
        """The preferences this CPO last accepted for the session."""
        return self.store.get("preferences", session_id)

    def active_session_ids(self) -> list[str]:
        return list(self.charging.runs)

    def cdrs(self) -> list[dict[str, Any]]:
        return self.store.values("cdr")

    def cdr(self, cdr_id: str) -> dict[str, Any] | None:
        return self.store.get("cdr", cdr_id)

    def wrong_total_cdr_ids(self) -> list[str]:
        """The CDRs published with a deliberately wrong total_cost (`wrong_total_share`): what an EMSP's
        reconciliation should flag, and nothing else."""
        return sorted(cdr["id"] for cdr in self.cdrs() if (self.cdr_info(cdr["id"]) or {}).get("wrong_total"))

    def cdr_info(self, cdr_id: str) -> dict[str, Any] | None:
        """{"wrong_total": bool, "correct_total": Price, "emsp_location": URL, "posted": bool}."""
        return self.store.get("cdr_meta", cdr_id)

    def commands(self) -> list[dict[str, Any]]:
        """Commands received, with the answer given and the CommandResult sent ("NONE" = none)."""
        return self.store.values("command")

    @property
    def calls(self) -> list[Call]:
        """Every outgoing call (pushes, authorizations, CommandResults, handshakes), oldest first."""
        return list(self.peer.calls)

    @property
    def command_responses(self) -> dict[str, str]:
        """Force the synchronous answer per command type, e.g. {"START_SESSION": "REJECTED"}."""
        return self.command_handler.responses

    @property
    def command_results(self) -> dict[str, str]:
        """Force the CommandResult per command type, e.g. {"START_SESSION": "FAILED"}; "NONE" = never."""
        return self.command_handler.results

    def set_chaos(self, **changes: Any) -> None:
        """Change chaos switches at runtime, e.g. set_chaos(error_share=0.5, latency_ms=100)."""
        for name, value in changes.items():
            if not hasattr(self.config.chaos, name):
                raise AttributeError(f"no chaos setting {name}")
            setattr(self.config.chaos, name, value)

    @property
    def wrong_total_share(self) -> float:
        return self.charging.wrong_total_share

    @wrong_total_share.setter
    def wrong_total_share(self, share: float) -> None:
        self.charging.wrong_total_share = share

    # live mode ----------------------------------------------------------------------------

    def run_live(
        self,
        *,
        stop: threading.Event | None = None,
        status_rate: float = 1.0,
        session_every: float = 5.0,
        session_seconds: tuple[int, int] = (60, 600),
        patch_every: float = 15.0,
        tick: float = 0.5,
        duration: float | None = None,
    ) -> None:
        """Behave like a live network until `stop` is set (or `duration` seconds passed)."""
        stop = stop or self._stopping
        began = last = time.monotonic()
        while not stop.is_set():
            stop.wait(tick)
            now = time.monotonic()
            try:
                self.live_step(
                    now - last,
                    status_rate=status_rate,
                    session_every=session_every,
                    session_seconds=session_seconds,
                    patch_every=patch_every,
                )
            except Exception:
                log.exception("live step failed")
            last = now
            if duration is not None and now - began >= duration:
                break

    def live_step(
        self,
        elapsed: float,
        *,
        status_rate: float = 1.0,
        session_every: float = 5.0,
        session_seconds: tuple[int, int] = (60, 600),
        patch_every: float = 15.0,
    ) -> None:
        """One deterministic step of the live loop covering `elapsed` seconds."""
        live = self._live
        if self.clock.frozen:
            live.clock_debt += elapsed
            whole = int(live.clock_debt)
            live.clock_debt -= whole
            self.clock.advance(whole)
        live.status_debt += status_rate * elapsed
        changes = int(live.status_debt)
        live.status_debt -= changes
        if changes:
            self.push_status_changes(changes)
        now = self.clock.epoch()
        for session_id, run in list(self.charging.runs.items()):
            if run.stop_at is not None and run.stop_at <= now:
                self.stop_session(session_id)
        live.patch_debt += elapsed
        if live.patch_debt >= patch_every:
            live.patch_debt = 0.0
            self.charging.progress_all()
        if session_every > 0:
            live.session_debt += elapsed
            while live.session_debt >= session_every:
                live.session_debt -= session_every
                self._live_session(session_seconds)

    def _live_session(self, session_seconds: tuple[int, int]) -> None:
        card = self._live_card()
        if card is None:
            return
        for _attempt in range(20):
            index = self._rng.randrange(self.network.size)
            if index in self.overlay.vanished:
                continue
            location = render_location(self.network, self.overlay, index)
            free = [e for e in location["evses"] if e["status"] == "AVAILABLE"]
            if free:
                break
        else:
            return
        evse = self._rng.choice(free)
        stop_at = self.clock.epoch() + self._rng.randint(*session_seconds)
        session_id: str | None
        if card.get("whitelist") == "ALWAYS" and card.get("valid"):
            session_id = self.start_session(location["id"], evse["uid"], token=card)["id"]
        else:
            session_id = self.swipe(card["uid"], location["id"], evse["uid"], token_type=card["type"]).session_id
        if session_id is not None and session_id in self.charging.runs:
            # The driver comes back and stops at the charger; a stop from the app (the EMSP's STOP_SESSION)
            # may come first.
            self.charging.runs[session_id].stop_at = stop_at
            self._live.sessions_started += 1

    def _live_card(self) -> dict[str, Any] | None:
        """The RFID card of the driver whose turn it is, None if they do not charge now: they are charging
        elsewhere (a card charges in one place at a time), or their card is invalid and they know it (most of
        the time). Now and then the card swiped is one the EMSP never issued. App tokens start sessions from the
        app (the EMSP's commands), not here."""
        cards = [t for t in self.tokens() if t.get("type") == RFID]
        if not any(card.get("valid") for card in cards):
            if not self._live.warned_no_tokens:
                log.info("no valid tokens received yet; live sessions start once the EMSP pushes tokens")
                self._live.warned_no_tokens = True
            return None
        card = self._rng.choice(cards)
        if (card["uid"].upper(), card["type"]) in self.charging.cards_charging():
            return None
        if not card.get("valid") and self._rng.random() >= self.config.invalid_card_tries:
            return None
        if self._rng.random() < self.config.stranger_card_share:
            return {"uid": f"{self._rng.randrange(16**8):08X}", "type": RFID}  # not one of the EMSP's cards
        return card


def _weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    pick = rng.randrange(sum(weight for _, weight in options))
    for value, weight in options:
        pick -= weight
        if pick < 0:
            return value
    return options[-1][0]
