"""HTTP transport: a threading stdlib server with keep-alive, handing requests to `Endpoints`."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from cposim import protocol
from cposim.endpoints import Request
from cposim.outbox import Job
from cposim.protocol import Response
from cposim.wire import Wire

log = logging.getLogger("cposim")


class Dispatcher(Protocol):
    """What the server hands requests to: a simulator's `Endpoints`, or a hub's front."""

    wire: Wire

    def dispatch(self, request: Request) -> tuple[Response | None, Job | None]: ...


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections must not make stop() wait; they are closed explicitly instead.
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], endpoints: Dispatcher, hold: Callable[[Job], Callable[[], None]]
    ) -> None:
        super().__init__(address, Handler)
        self.endpoints = endpoints
        # Registers follow-up work before the answer is written; the returned function releases it.
        self.hold = hold
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cposim"
    disable_nagle_algorithm = True
    timeout = 120
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib access log; `_handle` logs one line per request itself."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request = Request(self.command, unquote(split.path), query, self.headers, body)
        try:
            response, job = self.server.endpoints.dispatch(request)
        except Exception:
            log.exception("error handling %s %s", self.command, self.path)
            response, job = Response.error(500, protocol.SERVER_ERROR, "Internal simulator error"), None
        if response is None:
            self.close_connection = True
            log.info("%s %s -> dropped without answer", self.command, self.path)
            return
        release = self.server.hold(job) if job is not None else None
        try:
            self._write(response, started)
        finally:
            if release is not None:
                release()

    def _write(self, response: Response, started: float) -> None:
        payload = response.body()
        self.send_response(response.http_status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.server.endpoints.wire.request_ids:
            request_id = self.headers.get("X-Request-ID") or protocol.new_request_id()
            self.send_header("X-Request-ID", request_id)
            self.send_header("X-Correlation-ID", self.headers.get("X-Correlation-ID") or request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        elapsed = int((time.monotonic() - started) * 1000)
        log.info(
            "%s %s -> %s/%s %d bytes %dms",
            self.command,
            self.path,
            response.http_status,
            response.status_code,
            len(payload),
            elapsed,
        )
