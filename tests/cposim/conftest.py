"""Fixtures for the simulator tests: simulators on free ports and a tiny recording EMSP.

The fake EMSP is deliberately minimal and written here, not taken from the project's EMSP, so the
simulator is tested against the specification and not against the code it will test.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

# `.venv/bin/pytest` does not put the repository root on sys.path (pytest-django would, via
# manage.py, but these tests also run with `-p no:django`).
ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cposim import Hub, SimConfig, Simulator  # noqa: E402
from tests.examples import examples_dir  # noqa: E402

START = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)  # a Monday
EXAMPLES = examples_dir("2.2.1")


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeEmsp:
    """An EMSP reduced to what the simulator talks to; records every request it gets."""

    token_a: str = "emsp-token-a"
    # Token the simulator must send us (token C we issued, or token B we gave when registering).
    accepted_token: str | None = None
    # Token we send to the simulator.
    token_for_sim: str | None = None
    sim_versions_url: str | None = None
    received: list[Received] = field(default_factory=list)
    authorize: Callable[[str, Any], tuple[int, dict[str, Any]]] | None = None
    base_url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def envelope(self, data: Any = None, status_code: int = 1000) -> dict[str, Any]:
        body: dict[str, Any] = {"status_code": status_code, "timestamp": "2025-03-03T09:30:00Z"}
        if data is not None:
            body["data"] = data
        return body

    def versions(self) -> list[dict[str, str]]:
        return [{"version": "2.2.1", "url": f"{self.base_url}/emsp/2.2.1"}]

    def details(self) -> dict[str, Any]:
        url = f"{self.base_url}/emsp/2.2.1"
        endpoints = [{"identifier": "credentials", "role": "SENDER", "url": f"{url}/credentials"}]
        endpoints += [
            {"identifier": m, "role": "RECEIVER", "url": f"{url}/{m}"}
            for m in ("locations", "sessions", "cdrs", "tariffs")
        ]
        endpoints += [{"identifier": m, "role": "SENDER", "url": f"{url}/{m}"} for m in ("tokens", "commands")]
        endpoints.append({"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{url}/hubclientinfo"})
        return {"version": "2.2.1", "endpoints": endpoints}

    def credentials(self, token: str) -> dict[str, Any]:
        role = {"role": "EMSP", "country_code": "NL", "party_id": "EMS", "business_details": {"name": "Fake EMSP"}}
        return {"token": token, "url": f"{self.base_url}/emsp/versions", "roles": [role]}

    def calls(self, method: str | None = None, contains: str = "") -> list[Received]:
        return [r for r in self.received if (method is None or r.method == method) and contains in r.path]

    def register_at(self, sim: Simulator | Hub) -> dict[str, Any]:
        """Act as the initiator: register with the simulator using its token A."""
        token_b = "emsp-token-b"
        self.accepted_token = token_b
        headers = {"Authorization": "Token " + base64.b64encode(sim.token_a.encode()).decode()}
        versions = requests.get(sim.versions_url, headers=headers, timeout=5).json()["data"]
        details = requests.get(versions[0]["url"], headers=headers, timeout=5).json()["data"]
        url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
        answer = requests.post(url, json=self.credentials(token_b), headers=headers, timeout=5).json()
        assert answer["status_code"] == 1000, answer
        self.token_for_sim = answer["data"]["token"]
        return answer["data"]

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any):
        """Returns (http status, envelope or raw body, extra headers)."""
        self.received.append(Received(method, path, query, headers, body))
        token = _token(headers.get("Authorization", ""))
        if path == "/emsp/versions":
            return 200, self.envelope(self.versions()), {}
        if path == "/emsp/2.2.1":
            return 200, self.envelope(self.details()), {}
        if path == "/emsp/2.2.1/credentials":
            if method == "POST" and token == self.token_a:
                # Spec step 5: fetch the initiator's versions with the token it sent.
                sim_token = body["token"]
                reply = requests.get(body["url"], headers={"Authorization": f"Token {sim_token}"}, timeout=5)
                if reply.status_code != 200:
                    return 200, self.envelope(status_code=3001), {}
                self.token_for_sim = sim_token
                self.sim_versions_url = body["url"]
                self.accepted_token = "emsp-token-c"
                return 200, self.envelope(self.credentials(self.accepted_token)), {}
            if method == "PUT" and token == self.accepted_token:
                self.token_for_sim = body["token"]
                self.accepted_token = f"emsp-token-c{next(self._ids)}"
                return 200, self.envelope(self.credentials(self.accepted_token)), {}
            if method == "DELETE" and token == self.accepted_token:
                self.accepted_token = None
                return 200, self.envelope(), {}
            return 405, self.envelope(status_code=2000), {}
        if token is None or token != self.accepted_token:
            return 401, self.envelope(status_code=2000), {}
        if path.startswith("/emsp/2.2.1/tokens/") and path.endswith("/authorize"):
            uid = path.split("/")[-2]
            if self.authorize is not None:
                status, data = self.authorize(uid, body)
                return status, self.envelope(data, 1000 if status == 200 else 2004), {}
            token_obj = {
                "country_code": "NL",
                "party_id": "EMS",
                "uid": uid,
                "type": query.get("type", "RFID"),
                "contract_id": f"NL-EMS-C{uid}",
                "issuer": "Fake",
                "valid": True,
                "whitelist": "ALLOWED",
                "last_updated": "2025-01-01T00:00:00Z",
            }
            data = {"allowed": "ALLOWED", "token": token_obj, "location": body, "authorization_reference": f"AUTH{uid}"}
            return 200, self.envelope(data), {}
        if path == "/emsp/2.2.1/cdrs" and method == "POST":
            return 201, self.envelope(), {"Location": f"{self.base_url}/emsp/2.2.1/cdrs/stored/{body['id']}"}
        if method in ("PUT", "PATCH", "DELETE", "POST"):
            return 200, self.envelope(), {}
        return 404, self.envelope(status_code=2000), {}


def _token(header: str) -> str | None:
    if not header.startswith("Token "):
        return None
    value = header[6:]
    try:
        return base64.b64decode(value, validate=True).decode()
    except ValueError:
        return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = json.loads(raw) if raw else None
        status, payload, extra = self.server.emsp.handle(self.command, split.path, query, dict(self.headers), body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


@contextmanager
def serving(fake: FakeEmsp) -> Iterator[FakeEmsp]:
    """Serve a fake EMSP (or a subclass of it) on a free loopback port while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.block_on_close = False
    server.emsp = fake  # type: ignore[attr-defined]
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def emsp() -> Iterator[FakeEmsp]:
    with serving(FakeEmsp()) as fake:
        yield fake


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Build and start simulators (frozen clock by default); all are stopped after the test."""
    started: list[Simulator] = []

    def make(**overrides: Any) -> Simulator:
        options: dict[str, Any] = {"seed": 42, "locations": 30, "start_time": START, "request_timeout": 5.0}
        options.update(overrides)
        sim = Simulator(SimConfig(**options)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def sim(make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim()


@pytest.fixture
def linked(make_sim: Callable[..., Simulator], emsp: FakeEmsp) -> tuple[Simulator, FakeEmsp]:
    """A simulator registered with the fake EMSP (simulator initiated)."""
    simulator = make_sim()
    simulator.register_with(f"{emsp.base_url}/emsp/versions", emsp.token_a)
    emsp.received.clear()
    return simulator, emsp


class Client:
    """The EMSP's side of calls to the simulator, with its token C."""

    def __init__(self, sim: Simulator, token: str) -> None:
        self.sim = sim
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Token " + base64.b64encode(token.encode()).decode()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.sim.version_url}{path}"
        return self.session.get(url, timeout=5, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.sim.version_url}{path}", timeout=5, **kwargs)


@pytest.fixture
def client(linked: tuple[Simulator, FakeEmsp]) -> Client:
    simulator, _ = linked
    assert simulator.inbound_token
    return Client(simulator, simulator.inbound_token)


@pytest.fixture
def client_factory() -> Callable[[Simulator, str], Client]:
    return Client
