"""A CPO's Receiver interfaces (tokens, commands) faked at the `requests` layer, for unit tests of what we send.

Everything above `requests.Session.request` is real: OcpiClient, its headers, envelope checks and retries.
The integration tests do the same against the CPO simulator over real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone
from requests.structures import CaseInsensitiveDict

from drivers.models import Driver
from drivers.services import driver_create
from roaming.models import Partner, PartnerEndpoint

TOKENS_URL = "https://cpo.example.com/ocpi/2.2.1/tokens"
COMMANDS_URL = "https://cpo.example.com/ocpi/2.2.1/commands"
SESSIONS_URL = "https://cpo.example.com/ocpi/2.2.1/sessions"


@dataclass
class Call:
    method: str
    url: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FakeCpo:
    calls: list[Call] = field(default_factory=list)
    down: bool = False  # every request: HTTP 500 + OCPI 3000
    refuse: bool = False  # every request: OCPI 2001 (a permanent error)
    down_for: str = ""  # requests whose URL contains this: HTTP 500 + OCPI 3000
    refuse_for: str = ""  # requests whose URL contains this: OCPI 2001
    command_response: str = "ACCEPTED"
    command_timeout: int = 30
    # Runs while the CPO handles a command POST, before it answers (e.g. to post the result early).
    on_command: Callable[[Call], None] | None = None
    # The ChargingPreferencesResponse; "" answers HTTP 404 + 2001 (the EVSE takes no preferences).
    preferences_response: str = "ACCEPTED"

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        data = kwargs.get("data")
        call = Call(method, url, json.loads(data) if data else None, dict(kwargs.get("headers") or {}))
        self.calls.append(call)
        if self.down or (self.down_for and self.down_for in url):
            return _response(method, url, 500, {"status_code": 3000, "status_message": "down"})
        if self.refuse or (self.refuse_for and self.refuse_for in url):
            return _response(method, url, 200, {"status_code": 2001, "status_message": "refused"})
        if url.startswith(COMMANDS_URL):
            if self.on_command is not None:
                self.on_command(call)
            data = {"result": self.command_response, "timeout": self.command_timeout}
            return _response(method, url, 200, {"data": data, "status_code": 1000})
        if url.startswith(SESSIONS_URL) and url.endswith("/charging_preferences"):
            if not self.preferences_response:
                return _response(method, url, 404, {"status_code": 2001, "status_message": "not capable"})
            return _response(method, url, 200, {"data": self.preferences_response, "status_code": 1000})
        return _response(method, url, 200, {"status_code": 1000})

    def puts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]


def _response(method: str, url: str, status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.url = url
    response._content = json.dumps({**body, "timestamp": "2026-01-01T00:00:00Z"}).encode()
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    response.request = requests.Request(method, url).prepare()
    return response


def install_fake_cpo(monkeypatch: pytest.MonkeyPatch) -> FakeCpo:
    """Route every outgoing `requests` call of the test to a new FakeCpo."""
    fake = FakeCpo()

    def request(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        return fake.request(method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    return fake


def connect(partner: Partner) -> Partner:
    """Give a registered test partner our token for it and Tokens/Commands Receiver endpoints."""
    partner.outgoing_token = "token-we-use-at-the-cpo"
    partner.registered_at = timezone.now()
    partner.save()
    PartnerEndpoint.objects.create(partner=partner, module="tokens", role="RECEIVER", url=TOKENS_URL)
    PartnerEndpoint.objects.create(partner=partner, module="commands", role="RECEIVER", url=COMMANDS_URL)
    return partner


def make_driver(username: str = "ann", **fields: Any) -> Driver:
    driver = driver_create(user=get_user_model().objects.create_user(username, f"{username}@example.com", "pw"))
    for name, value in fields.items():
        setattr(driver, name, value)
    driver.save()
    return driver
