"""The WSGI application: OCPI requests take the short middleware stack, everything else the full one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.test import RequestFactory
from pytest_django.fixtures import Settings as DjangoSettings

from emsp.handlers import get_application
from tests.roaming.conftest import registered_partner

pytestmark = pytest.mark.django_db


def _call(path: str, headers: dict[str, str] | None = None) -> tuple[str, dict[str, str], bytes]:
    environ = RequestFactory().get(path, headers=headers).environ
    seen: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen["status"], seen["headers"] = status, dict(response_headers)

    # As Django's test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(get_application()(environ, start_response))
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return seen["status"], seen["headers"], body


def test_ocpi_requests_skip_the_browser_middleware() -> None:
    _, token = registered_partner("Handler CPO", [("NL", "HCP")])
    status, headers, body = _call("/ocpi/versions", {"Authorization": f"Token {token}"})
    assert status.startswith("200")
    assert json.loads(body)["status_code"] == 1000
    assert headers["Content-Length"] == str(len(body))  # clients need not read chunked answers
    assert "X-Frame-Options" not in headers  # XFrameOptionsMiddleware did not run
    assert "Set-Cookie" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware did


def test_other_requests_take_every_middleware() -> None:
    status, headers, body = _call("/admin/login/")
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY"
    assert "csrftoken" in headers["Set-Cookie"]
    assert b"EMSP back office" in body


def test_building_it_leaves_the_settings_as_they_were() -> None:
    before = list(settings.MIDDLEWARE)
    get_application()
    assert before == settings.MIDDLEWARE
    assert "django.contrib.sessions.middleware.SessionMiddleware" in before


def test_unknown_ocpi_paths_get_an_envelope_not_djangos_page() -> None:
    _, token = registered_partner("Handler CPO", [("NL", "HCP")])
    status, headers, body = _call("/ocpi/2.2.1/" + "x" * 40, {"Authorization": f"Token {token}"})
    assert status.startswith("404")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["status_code"] == 2000


def test_an_error_outside_the_ocpi_views_is_an_envelope_too(settings: DjangoSettings) -> None:
    # SecurityMiddleware reads the Host header to redirect to HTTPS: a host we do not serve is a 400 raised
    # before any view runs, answered by Django's handler400.
    settings.SECURE_SSL_REDIRECT = True
    status, headers, body = _call("/ocpi/versions", {"Host": "evil.example"})
    assert status.startswith("400")
    assert json.loads(body)["status_code"] == 2000
    status, headers, body = _call("/admin/login/", {"Host": "evil.example"})
    assert status.startswith("400")
    assert headers["Content-Type"].startswith("text/html")
