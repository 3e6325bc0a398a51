"""Hostile input on every OCPI endpoint: the answer is an OCPI envelope with a client error (never a 500, never an
HTML page), and a refused request writes nothing.

The endpoints are read from roaming/ocpi/urls.py (every route of MODULES, every method its view implements), so a
new module is covered without touching this file. A new URL parameter needs a sample value in SAMPLES, and a new
endpoint that reads a body needs an entry in NUMBER_FIELDS or NO_NUMBER_FIELDS (a test checks that).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.urls import resolve
from django.utils.regex_helper import normalize

from drivers.services import token_issue
from roaming.models import Command, Location, OcpiRequestLog, Partner
from roaming.ocpi.urls import MODULES
from roaming.ocpi.v2_2_1.types import MAX_JSON_DEPTH
from roaming.ocpi.views.versions import VersionDetailsView, VersionsView
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, Reply
from tests.roaming.fakecpo import make_driver

REFERENCE = "6f1c3a55-2b8e-4c8e-9a51-0d4f2b7c9e10"

#: A value for each URL parameter, naming objects of the caller's own party (BE/BEC).
SAMPLES = {
    "country_code": "BE",
    "party_id": "BEC",
    "location_id": "LOC1",
    "evse_uid": "3256",
    "connector_id": "1",
    "tariff_id": "12",
    "session_id": "101",
    "cdr_pk": "1",
    "token_uid": "04A1B2C3",
    "command_type": "START_SESSION",
    "reference": REFERENCE,
}
#: Parameters whose route has a pattern of its own (digits, a command type, a UUID): any other value is an
#: unknown path (2000). Free-form ids are read by the view and refused as invalid parameters (2001).
PATTERNED = frozenset({"country_code", "party_id", "cdr_pk", "command_type", "reference"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str  # e.g. /ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}
    params: tuple[str, ...]

    def url(self, **values: str) -> str:
        return self.template.format(**{**SAMPLES, **values})

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _routes() -> list[tuple[str, type]]:
    routes: list[tuple[str, type]] = [("versions", VersionsView)]
    for version, modules in MODULES.items():
        routes.append((re.escape(version), VersionDetailsView))
        routes += [(f"{re.escape(version)}/{m.path}{suffix}", view) for m in modules for suffix, view in m.routes]
    return routes


def _endpoints() -> list[Endpoint]:
    endpoints = []
    for regex, view in _routes():
        for template, params in normalize(regex):
            # normalize() also yields "connector without EVSE" for the two optional groups, a URL that reads as
            # an EVSE: keep the shapes the URL resolver gives.
            if sorted(resolve("/ocpi/" + template % SAMPLES).kwargs) != sorted(params):
                continue
            path = "/ocpi/" + template % {p: f"{{{p}}}" for p in params}
            implemented = [m for m in METHODS if callable(getattr(view, m.lower(), None))]
            endpoints += [Endpoint(method, path, tuple(params)) for method in implemented]
    return endpoints


def _unimplemented() -> list[Endpoint]:
    implemented = {(e.template, e.method) for e in ENDPOINTS}
    templates = {e.template: e.params for e in ENDPOINTS}
    return [Endpoint(m, t, p) for t, p in templates.items() for m in METHODS if (t, m) not in implemented]


ENDPOINTS = _endpoints()
WITH_BODY = [e for e in ENDPOINTS if e.method in BODY_METHODS]
WITH_IDS = [(e, p) for e in ENDPOINTS for p in e.params]
#: What answers before a body is read in this setup (a registered partner, a command waiting for its result).
REFUSED_BEFORE_BODY = {
    "POST /ocpi/2.2.1/credentials": (405, 2000),  # POST is for a partner holding token A
    "POST /ocpi/2.2.1/cdrs/{cdr_pk}": (405, 2000),  # CDRs are POSTed to the module URL
}


def _rows() -> dict[str, int]:
    """Row counts of every table a request could write to (the request log aside: it records refusals too)."""
    models = [m for name in ("roaming", "drivers", "billing") for m in apps.get_app_config(name).get_models()]
    return {m._meta.label: m._default_manager.count() for m in models if m is not OcpiRequestLog}


@pytest.fixture
def world(cpo: tuple[Partner, str]) -> dict[str, int]:
    """Objects the endpoints look for before they read a body (our token, a command waiting for its result);
    returns the row counts to compare with after a refused request."""
    token_issue(driver=make_driver(), uid=SAMPLES["token_uid"])
    Command.objects.create(partner=cpo[0], type=SAMPLES["command_type"], reference=uuid.UUID(REFERENCE))
    return _rows()


def _assert_envelope(reply: Reply, http_status: int, status_code: int) -> None:
    assert (reply.http_status, reply.status_code) == (http_status, status_code), reply.body
    assert reply.body["timestamp"].endswith("Z")
    if status_code != 1000:
        assert reply.body["status_message"]


def _assert_refused(reply: Reply, endpoint: Endpoint, world: dict[str, int], http_status: int, phrase: str) -> None:
    """The body was read and refused (or the request refused before the body was read), and nothing written."""
    if endpoint.method not in BODY_METHODS:  # a body on GET/DELETE is not read: the request is served as usual
        assert reply.http_status < 500, reply.body
        return
    expected = REFUSED_BEFORE_BODY.get(str(endpoint))
    if expected:
        _assert_envelope(reply, *expected)
    else:
        _assert_envelope(reply, http_status, 2001)
        assert phrase in reply.body["status_message"]
    assert _rows() == world


def _raw(value: Any, **placeholders: str) -> bytes:
    """`value` as JSON with each "<name>" string replaced by raw JSON text (numbers json.dumps cannot write)."""
    text = json.dumps(value)
    for name, raw in placeholders.items():
        text = text.replace(f'"<{name}>"', raw)
    return text.encode()


def _location() -> dict[str, Any]:
    return example("locations/location_example.json")


def _evse() -> dict[str, Any]:
    return {**_location()["evses"][0], "coordinates": {"latitude": "51.047599", "longitude": "3.729944"}}


def _connector() -> dict[str, Any]:
    return {**_evse()["connectors"][0], "max_electric_power": 11000}


def _tariff() -> dict[str, Any]:
    tariff = example("tariffs/tariff_1_simple_2hour.json")
    tariff.update(country_code="BE", party_id="BEC", min_price={"excl_vat": 1}, max_price={"excl_vat": 9})
    tariff["elements"][0]["restrictions"] = {"max_kwh": 50, "max_duration": 3600}
    return tariff


def _session() -> dict[str, Any]:
    return example("sessions/session_example_2_short_finished.json")


def _cdr() -> dict[str, Any]:
    return {**example("cdrs/cdr_example.json"), "total_parking_time": 0, "total_fixed_cost": {"excl_vat": 1}}


LAST_UPDATED = {"last_updated": "2030-01-01T00:00:00Z"}
LOCATION = "/ocpi/2.2.1/locations/{country_code}/{party_id}/{location_id}"


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


# --- JSON we do not read --------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_json_nested_ten_thousand_levels_is_refused(ocpi: OcpiTestClient, world: dict, endpoint: Endpoint) -> None:
    for body in (b"[" * 10_000 + b"]" * 10_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000):
        reply = ocpi.call(endpoint.method, endpoint.url(), raw_body=body)
        _assert_refused(reply, endpoint, world, 400, "nested")


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
def test_json_nested_deeper_than_the_limit_inside_a_field_is_refused(
    ocpi: OcpiTestClient, world: dict, endpoint: Endpoint
) -> None:
    reply = ocpi.call(endpoint.method, endpoint.url(), raw_body=_raw({"vendor": _nested(300)}))
    _assert_refused(reply, endpoint, world, 400, "nested")


def test_a_cdr_with_an_unknown_field_nested_300_deep_is_refused_not_a_crash(ocpi: OcpiTestClient, world: dict) -> None:
    # Shallow enough for the JSON parser, too deep for the code that copies unknown fields into JSON columns.
    reply = ocpi.call("POST", "/ocpi/2.2.1/cdrs", raw_body=_raw({**_cdr(), "vendor": _nested(300)}))
    _assert_envelope(reply, 400, 2001)
    assert _rows() == world


def test_nesting_up_to_the_limit_is_read_and_kept(ocpi: OcpiTestClient, world: dict) -> None:
    url = LOCATION.format(**SAMPLES)
    deepest = {**_location(), "vendor": _nested(MAX_JSON_DEPTH - 1)}  # the location itself is the first level
    _assert_envelope(ocpi.put(url, deepest), 201, 1000)
    assert ocpi.get(url).data["vendor"] == deepest["vendor"]
    _assert_envelope(ocpi.put(url, {**deepest, "vendor": _nested(MAX_JSON_DEPTH)}), 400, 2001)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
@pytest.mark.parametrize("text", ["a\\u0000b", "\\ud800", "\\udfff tail"], ids=["nul", "lone-high", "lone-low"])
def test_nul_and_lone_surrogates_in_strings_are_refused(
    ocpi: OcpiTestClient, world: dict, endpoint: Endpoint, text: str
) -> None:
    # Inside an unknown field, which would be kept in a JSON column: PostgreSQL refuses \u0000 in text and jsonb,
    # and no database driver can encode a lone surrogate.
    reply = ocpi.call(endpoint.method, endpoint.url(), raw_body=b'{"note": "' + text.encode() + b'"}')
    _assert_refused(reply, endpoint, world, 400, "\\u0000" if "0000" in text else "surrogate")


def test_nul_in_a_stored_field_and_in_a_key_are_refused(ocpi: OcpiTestClient, world: dict) -> None:
    body = example("locations/location_example.json")
    for raw in (_raw({**body, "name": "<nul>"}, nul='"Gent\\u0000Zuid"'), _raw({**body, "a\u0000b": 1})):
        reply = ocpi.call("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", raw_body=raw)
        _assert_envelope(reply, 400, 2001)
    assert _rows() == world


def test_an_escaped_backslash_before_u0000_is_ordinary_text(ocpi: OcpiTestClient, world: dict) -> None:
    body = example("locations/location_example.json")
    reply = ocpi.call("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", raw_body=_raw({**body, "name": "C:\\u0000"}))
    _assert_envelope(reply, 201, 1000)
    assert Location.objects.get().name == "C:\\u0000"


def test_raw_control_bytes_are_malformed_json_and_still_logged(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.call("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", raw_body=b'{"name": "a\x00b"}')
    _assert_envelope(reply, 400, 2001)
    assert "not valid JSON" in reply.body["status_message"]
    assert "\x00" not in OcpiRequestLog.objects.get().request_body  # PostgreSQL would refuse the log row


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(ocpi: OcpiTestClient, world: dict, constant: str) -> None:
    reply = ocpi.call("PATCH", "/ocpi/2.2.1/sessions/BE/BEC/101", raw_body=_raw({"kwh": "<n>"}, n=constant))
    _assert_envelope(reply, 400, 2001)
    assert _rows() == world


def test_numbers_with_absurd_exponents_are_refused_before_anything_reads_them(
    ocpi: OcpiTestClient, world: dict
) -> None:
    # int(Decimal("1e999999999")) would build a billion-digit integer for the JSON column of an unknown field.
    for number in ("1e999999999", "1e-999999999", "1e1001"):
        reply = ocpi.call("PATCH", "/ocpi/2.2.1/sessions/BE/BEC/101", raw_body=_raw({"x": "<n>"}, n=number))
        _assert_envelope(reply, 400, 2001)
        assert "out of range" in reply.body["status_message"]
    assert _rows() == world


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_datetimes_beyond_the_calendar_after_conversion_to_utc_are_2001(
    ocpi: OcpiTestClient, world: dict, stamp: str
) -> None:
    reply = ocpi.patch("/ocpi/2.2.1/sessions/BE/BEC/101", {"last_updated": stamp})
    _assert_envelope(reply, 200, 2001)
    assert "last_updated" in reply.body["status_message"]
