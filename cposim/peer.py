"""Calls from the simulator to the EMSP, and the log of every call made.

All outgoing HTTP goes through `Peer`, which adds the OCPI headers (authorization; in 2.2.1 also request
and correlation ids, and routing headers on functional modules) and applies the push chaos: duplicate
pushes and pushes held back to arrive after the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from cposim import protocol
from cposim.chaos import Chaos
from cposim.wire import Wire

log = logging.getLogger("cposim")

# Modules without routing headers (spec: they SHALL NOT be used with configuration modules).
CONFIGURATION_MODULES = ("versions", "credentials", "hubclientinfo")


@dataclass
class Call:
    """One outgoing request and its outcome."""

    method: str
    url: str
    module: str
    body: Any = None
    http_status: int | None = None
    status_code: int | None = None
    status_message: str | None = None
    data: Any = None
    # What we sent, e.g. `call.request_headers["OCPI-to-party-id"]`.
    request_headers: dict[str, str] = field(default_factory=dict)
    # Case-insensitive when filled from a response (e.g. `call.headers["location"]`).
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    duplicate: bool = False
    held: bool = False
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and self.http_status is not None
            and self.http_status < 300
            and (self.status_code in (None, protocol.SUCCESS))
        )


class PeerError(Exception):
    """The EMSP could not be used (network error, non-2xx, non-1000 OCPI status)."""

    def __init__(self, call: Call) -> None:
        detail = call.error or f"HTTP {call.http_status}, OCPI {call.status_code}"
        super().__init__(f"{call.method} {call.url}: {detail}")
        self.call = call


@dataclass
class _Held:
    method: str
    url: str
    token: str
    body: Any
    module: str
    to: tuple[str, str] | None
    call: Call


class Peer:
    """HTTP client towards the EMSP; thread-safe (one `requests.Session` per thread)."""

    def __init__(
        self,
        *,
        own_party: tuple[str, str],
        chaos: Chaos,
        wire: Wire,
        timeout: float = 10.0,
        encode_token: bool = True,
        log_size: int = 10_000,
    ) -> None:
        self.own_party = own_party
        self.chaos = chaos
        self.wire = wire
        self.timeout = timeout
        self.encode_token = encode_token
        self.calls: deque[Call] = deque(maxlen=log_size)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._held: _Held | None = None

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self._local.session = session
        return session

    def _headers(self, token: str, module: str, to: tuple[str, str] | None) -> dict[str, str]:
        encode = self.encode_token and self.wire.base64_token
        headers = {
            "Authorization": protocol.encode_token(token) if encode else f"Token {token}",
            "Accept": "application/json",
        }
        if self.wire.request_ids:
            headers["X-Request-ID"] = headers["X-Correlation-ID"] = protocol.new_request_id()
        if module not in CONFIGURATION_MODULES and self.wire.routing_headers:
            headers["OCPI-from-country-code"], headers["OCPI-from-party-id"] = self.own_party
            if to is not None:
                headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
        return headers

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str,
        module: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        to: tuple[str, str] | None = None,
        call: Call | None = None,
        headers: dict[str, str] | None = None,
    ) -> Call:
        """Make one call now and log it; never raises for HTTP or network failures. `headers` replace the
        ones we would send (a hub relaying keeps the correlation id and the parties of the original call)."""
        call = call or Call(method=method, url=url, module=module, body=body)
        headers = {**self._headers(token, module, to), **(headers or {})}
        call.request_headers = headers
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = protocol.dumps(body)
        started = time.monotonic()
        try:
            response = self._session().request(
                method, url, data=data, headers=headers, params=params, timeout=self.timeout
            )
        except requests.RequestException as exc:
            call.error = f"{type(exc).__name__}: {exc}"
        else:
            call.http_status = response.status_code
            call.headers = response.headers
            if response.content:
                try:
                    envelope = protocol.loads(response.content)
                except ValueError:
                    call.error = "response is not JSON"
                else:
                    if isinstance(envelope, dict):
                        status = envelope.get("status_code")
                        call.status_code = status if isinstance(status, int) else None
                        message = envelope.get("status_message")
                        call.status_message = message if isinstance(message, str) else None
                        call.data = envelope.get("data")
        call.duration_ms = int((time.monotonic() - started) * 1000)
        self.calls.append(call)
        outcome = call.error or f"{call.http_status}/{call.status_code}"
        flag = " (duplicate)" if call.duplicate else (" (out of order)" if call.held else "")
        log.info("-> %s %s %s %dms%s", method, url, outcome, call.duration_ms, flag)
        return call

    def push(
        self,
        method: str,
        url: str,
        *,
        token: str,
        module: str,
        body: Any,
        to: tuple[str, str] | None = None,
        reorder: bool = True,
    ) -> Call:
        """Send a push with the configured chaos.

        A push picked for out-of-order delivery is held and sent right after the next push (or
        on `flush_held`); the returned `Call` is then filled in later. Pushes whose answer the
        caller needs (CDR POST) pass `reorder=False`.
        """
        with self._lock:
            hold = reorder and self._held is None and self.chaos.roll(self.chaos.config.out_of_order_share)
            if hold:
                call = Call(method=method, url=url, module=module, body=body, held=True)
                self._held = _Held(method, url, token, body, module, to, call)
                log.info("-> %s %s held back to be sent out of order", method, url)
                return call
            held, self._held = self._held, None
        call = self.request(method, url, token=token, module=module, body=body, to=to)
        if self.chaos.roll(self.chaos.config.duplicate_share):
            duplicate = Call(method=method, url=url, module=module, body=body, duplicate=True)
            self.request(method, url, token=token, module=module, body=body, to=to, call=duplicate)
        if held is not None:
            self._send_held(held)
        return call

    def flush_held(self) -> None:
        with self._lock:
            held, self._held = self._held, None
        if held is not None:
            self._send_held(held)

    def _send_held(self, held: _Held) -> None:
        self.request(
            held.method, held.url, token=held.token, module=held.module, body=held.body, to=held.to, call=held.call
        )
