"""Hostile input on every OCPI endpoint: the answer is an OCPI envelope with a client error (never a 500, never an
HTML page), and a refused request writes nothing.

The endpoints are read from roaming/ocpi/urls.py (every route of MODULES, every method its view implements), so a
new module is covered without touching this file. A new URL parameter needs a sample value in SAMPLES, and a new
endpoint that reads a body needs an entry in NUMBER_FIELDS or NO_NUMBER_FIELDS (a test checks that).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client, RequestFactory
from django.urls import get_resolver, resolve
from django.utils.regex_helper import normalize
from pytest_django.fixtures import Settings as DjangoSettings

from drivers.services import token_issue
from roaming.models import Command, EvseStatusChange, Location, OcpiRequestLog, Partner
from roaming.ocpi.urls import MODULES
from roaming.ocpi.v2_2_1.types import MAX_JSON_DEPTH
from roaming.ocpi.views.versions import VersionDetailsView, VersionsView
from roaming.services.partners import partner_invite
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
    "record_id": "IR1",
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
    "POST /ocpi/2.3.0/credentials": (405, 2000),
    "POST /ocpi/2.2.1/cdrs/{cdr_pk}": (405, 2000),  # CDRs are POSTed to the module URL
    "POST /ocpi/2.3.0/cdrs/{cdr_pk}": (405, 2000),
    "POST /ocpi/2.1.1/credentials": (405, 2000),
    "POST /ocpi/2.1.1/cdrs/{cdr_pk}": (405, 2000),
    # The tariff is looked up before the PATCH body is read (there is none in this setup).
    "PATCH /ocpi/2.1.1/tariffs/{country_code}/{party_id}/{tariff_id}": (404, 2000),
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
    body = _location()
    for raw in (_raw({**body, "name": "<nul>"}, nul='"Gent\\u0000Zuid"'), _raw({**body, "a\u0000b": 1})):
        reply = ocpi.call("PUT", LOCATION.format(**SAMPLES), raw_body=raw)
        _assert_envelope(reply, 400, 2001)
    assert _rows() == world


def test_an_escaped_backslash_before_u0000_is_ordinary_text(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.call("PUT", LOCATION.format(**SAMPLES), raw_body=_raw({**_location(), "name": "C:\\u0000"}))
    _assert_envelope(reply, 201, 1000)
    assert Location.objects.get().name == "C:\\u0000"


def test_raw_control_bytes_are_malformed_json_and_still_logged(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.call("PUT", LOCATION.format(**SAMPLES), raw_body=b'{"name": "a\x00b"}')
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


# --- numbers that do not fit their columns --------------------------------------------------------------------

INT = ("-1", "2147483648")  # integer columns hold 0 .. 2^31-1 here
DECIMAL = ("100000000", "-100000000")  # DECIMAL(12, 4): eight integer digits
VAT = ("1000", "-1")  # DECIMAL(5, 2), a percentage
COORDINATE = ("90.1",)  # a string in OCPI; the column is DECIMAL(10, 7)
EVERYWHERE = ("1e400", "-1e400", "1" + "0" * 40)


NUMBER_FIELDS: dict[str, tuple[Callable[[], dict[str, Any]], dict[str, tuple[str, ...]]]] = {
    f"PUT {LOCATION}": (
        _location,
        {
            "coordinates.latitude": COORDINATE,
            "evses.0.connectors.0.max_voltage": INT,
            "evses.0.connectors.0.max_amperage": INT,
        },
    ),
    f"PUT {LOCATION}/{{evse_uid}}": (
        _evse,
        {"coordinates.longitude": ("180.5",), "connectors.0.max_voltage": INT},
    ),
    f"PUT {LOCATION}/{{evse_uid}}/{{connector_id}}": (
        _connector,
        {"max_voltage": INT, "max_amperage": INT, "max_electric_power": INT},
    ),
    f"PATCH {LOCATION}": (
        lambda: {**LAST_UPDATED, "coordinates": _evse()["coordinates"], "evses": [_evse()]},
        {"coordinates.latitude": COORDINATE, "evses.0.connectors.0.max_amperage": INT},
    ),
    f"PATCH {LOCATION}/{{evse_uid}}": (
        lambda: {**LAST_UPDATED, "connectors": [_connector()]},
        {"connectors.0.max_electric_power": INT},
    ),
    f"PATCH {LOCATION}/{{evse_uid}}/{{connector_id}}": (
        lambda: {**LAST_UPDATED, "max_voltage": 400, "max_electric_power": 22000},
        {"max_voltage": INT, "max_electric_power": INT},
    ),
    "PUT /ocpi/2.2.1/tariffs/{country_code}/{party_id}/{tariff_id}": (
        _tariff,
        {
            "elements.0.price_components.0.price": DECIMAL,
            "elements.0.price_components.0.vat": VAT,
            "elements.0.price_components.0.step_size": INT,
            "elements.0.restrictions.max_kwh": DECIMAL,
            "elements.0.restrictions.max_duration": INT,
            "min_price.excl_vat": DECIMAL,
            "max_price.excl_vat": DECIMAL,
        },
    ),
    "PUT /ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}": (
        _session,
        {"kwh": DECIMAL, "total_cost.excl_vat": DECIMAL, "charging_periods.0.dimensions.0.volume": DECIMAL},
    ),
    "PATCH /ocpi/2.2.1/sessions/{country_code}/{party_id}/{session_id}": (
        lambda: {**LAST_UPDATED, "kwh": 12, "total_cost": {"excl_vat": 3, "incl_vat": 3.6}},
        {"kwh": DECIMAL, "total_cost.incl_vat": DECIMAL},
    ),
    "POST /ocpi/2.2.1/cdrs": (
        _cdr,
        {
            "total_cost.excl_vat": DECIMAL,
            "total_energy": DECIMAL,
            "total_time": DECIMAL,
            "total_parking_time": DECIMAL,
            "total_fixed_cost.excl_vat": DECIMAL,
            "total_time_cost.excl_vat": DECIMAL,
            "charging_periods.0.dimensions.0.volume": DECIMAL,
            "tariffs.0.elements.0.price_components.0.vat": VAT,
        },
    ),
}


def _example_211(name: str) -> dict[str, Any]:
    return example(name, "2.1.1")


def _evse_211() -> dict[str, Any]:
    evse = _example_211("locations/location_example.json")["evses"][0]
    return {**evse, "coordinates": {"latitude": "51.047599", "longitude": "3.729944"}}


def _tariff_211() -> dict[str, Any]:
    tariff = {**_example_211("tariffs/tariff_example_simple_2_per_hour.json"), **LAST_UPDATED}
    tariff["elements"][0]["restrictions"] = {"max_kwh": 50, "max_duration": 3600}
    return tariff


def _cdr_211() -> dict[str, Any]:
    cdr = _example_211("sessions/session_example_2_short_finished.json")
    cdr = {k: v for k, v in cdr.items() if k not in ("start_datetime", "end_datetime", "kwh", "status")}
    return {**cdr, "start_date_time": "2015-06-29T22:39:09Z", "stop_date_time": "2015-06-29T23:50:16Z",
            "total_energy": 41, "total_time": 1.2, "total_parking_time": 0.7}  # fmt: skip


LOCATION_211 = "/ocpi/2.1.1/locations/{country_code}/{party_id}/{location_id}"
# 2.1.1 bodies (the 2.1.1 examples): connectors say voltage/amperage, costs are plain numbers.
NUMBER_FIELDS.update(
    {
        f"PUT {LOCATION_211}": (
            lambda: _example_211("locations/location_example.json"),
            {
                "coordinates.latitude": COORDINATE,
                "evses.0.connectors.0.voltage": INT,
                "evses.0.connectors.0.amperage": INT,
            },
        ),
        f"PUT {LOCATION_211}/{{evse_uid}}": (
            _evse_211,
            {"coordinates.longitude": ("180.5",), "connectors.0.voltage": INT},
        ),
        f"PUT {LOCATION_211}/{{evse_uid}}/{{connector_id}}": (
            lambda: _evse_211()["connectors"][0],
            {"voltage": INT, "amperage": INT},
        ),
        f"PATCH {LOCATION_211}": (
            lambda: {"coordinates": _evse_211()["coordinates"], "evses": [_evse_211()]},
            {"coordinates.latitude": COORDINATE, "evses.0.connectors.0.amperage": INT},
        ),
        f"PATCH {LOCATION_211}/{{evse_uid}}": (
            lambda: {"connectors": [_evse_211()["connectors"][0]]},
            {"connectors.0.voltage": INT},
        ),
        f"PATCH {LOCATION_211}/{{evse_uid}}/{{connector_id}}": (lambda: {"voltage": 400}, {"voltage": INT}),
        "PUT /ocpi/2.1.1/tariffs/{country_code}/{party_id}/{tariff_id}": (
            _tariff_211,
            {
                "elements.0.price_components.0.price": DECIMAL,
                "elements.0.price_components.0.step_size": INT,
                "elements.0.restrictions.max_kwh": DECIMAL,
                "elements.0.restrictions.max_duration": INT,
            },
        ),
        "PUT /ocpi/2.1.1/sessions/{country_code}/{party_id}/{session_id}": (
            lambda: _example_211("sessions/session_example_2_short_finished.json"),
            {"kwh": DECIMAL, "total_cost": DECIMAL, "charging_periods.0.dimensions.0.volume": DECIMAL},
        ),
        "PATCH /ocpi/2.1.1/sessions/{country_code}/{party_id}/{session_id}": (
            lambda: {"kwh": 12, "total_cost": 3},
            {"kwh": DECIMAL, "total_cost": DECIMAL},
        ),
        "POST /ocpi/2.1.1/cdrs": (
            _cdr_211,
            {
                "total_cost": DECIMAL,
                "total_energy": DECIMAL,
                "total_time": DECIMAL,
                "total_parking_time": DECIMAL,
                "charging_periods.0.dimensions.0.volume": DECIMAL,
            },
        ),
    }
)


def _price_230(value: Any, limit: bool) -> Any:
    """A 2.2.1 body in 2.3.0 shapes: Prices {before_taxes, taxes}, tariff PriceLimits, tariffs with tax_included."""
    if isinstance(value, list):
        return [_price_230(item, limit) for item in value]
    if not isinstance(value, dict):
        return value
    if "excl_vat" in value:
        excl, incl = value["excl_vat"], value.get("incl_vat")
        if limit:
            return {"before_taxes": excl} | ({"after_taxes": incl} if incl is not None else {})
        return {"before_taxes": excl, "taxes": [{"name": "VAT", "amount": incl - excl if incl else 0}]}
    doc = {k: _price_230(v, limit or k in ("min_price", "max_price")) for k, v in value.items()}
    if "elements" in doc:
        doc.setdefault("tax_included", "NO")
    return doc


def _field_230(field: str) -> str:
    if field.startswith(("min_price", "max_price")):
        return field.replace("excl_vat", "before_taxes").replace("incl_vat", "after_taxes")
    return field.replace("incl_vat", "taxes.0.amount").replace("excl_vat", "before_taxes")


# Every 2.2.1 endpoint is served in 2.3.0 too, with the same numbers in 2.3.0 shapes.
NUMBER_FIELDS.update(
    {
        key.replace("/2.2.1/", "/2.3.0/"): (
            lambda make=make: _price_230(make(), False),  # type: ignore[misc]
            {_field_230(field): extra for field, extra in fields.items()},
        )
        for key, (make, fields) in list(NUMBER_FIELDS.items())
        if "/2.2.1/" in key
    }
)
#: Endpoints that read a body without numbers we store.
NO_NUMBER_FIELDS = frozenset(
    {
        "POST /ocpi/2.2.1/credentials",
        "PUT /ocpi/2.2.1/credentials",
        "POST /ocpi/2.2.1/cdrs/{cdr_pk}",
        "POST /ocpi/2.2.1/tokens/{token_uid}/authorize",
        "POST /ocpi/2.2.1/commands/{command_type}/{reference}",
        "PUT /ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}",
        "POST /ocpi/2.3.0/cdrs/{cdr_pk}",
        "POST /ocpi/2.3.0/tokens/{token_uid}/authorize",
        "POST /ocpi/2.3.0/commands/{command_type}/{reference}",
        "PUT /ocpi/2.3.0/hubclientinfo/{country_code}/{party_id}",
        "POST /ocpi/2.3.0/credentials",
        "PUT /ocpi/2.3.0/credentials",
        "POST /ocpi/2.3.0/invoicereconciliation",
        "PUT /ocpi/2.3.0/invoicereconciliation/{country_code}/{party_id}/{record_id}",
        "POST /ocpi/2.1.1/credentials",
        "PUT /ocpi/2.1.1/credentials",
        "POST /ocpi/2.1.1/cdrs/{cdr_pk}",
        "POST /ocpi/2.1.1/tokens/{token_uid}/authorize",
        "POST /ocpi/2.1.1/commands/{command_type}/{reference}",
        "PATCH /ocpi/2.1.1/tariffs/{country_code}/{party_id}/{tariff_id}",  # 404 here: no tariff to patch
    }
)
NUMBER_CASES = [
    pytest.param(key, field, raw, id=f"{key.replace('/ocpi/2.2.1/', ' ')} {field}={raw[:12]}")
    for key, (_, fields) in NUMBER_FIELDS.items()
    for field, extra in fields.items()
    for raw in (*EVERYWHERE, *extra)
]


def test_every_endpoint_with_a_body_says_which_numbers_it_stores() -> None:
    assert {str(e) for e in WITH_BODY} == set(NUMBER_FIELDS) | NO_NUMBER_FIELDS


def _set(document: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        document = document[int(part)] if isinstance(document, list) else document[part]
    document[int(last) if isinstance(document, list) else last] = value


@pytest.mark.parametrize(("key", "field", "raw"), NUMBER_CASES)
def test_numbers_that_do_not_fit_their_column_are_2001_naming_the_field(
    ocpi: OcpiTestClient, world: dict, key: str, field: str, raw: str
) -> None:
    method, template = key.split(" ")
    body = copy.deepcopy(NUMBER_FIELDS[key][0]())
    _set(body, field, "<n>")
    reply = ocpi.call(method, template.format(**SAMPLES), raw_body=_raw(body, n=raw))
    _assert_envelope(reply, 200, 2001)
    assert field in reply.body["status_message"]
    assert _rows() == world


@pytest.mark.parametrize("key", list(NUMBER_FIELDS))
def test_the_bodies_of_the_number_tests_are_accepted_as_they_are(ocpi: OcpiTestClient, world: dict, key: str) -> None:
    method, template = key.split(" ")
    if key != f"PUT {LOCATION}":  # what the other location and session endpoints change must exist
        assert ocpi.put(LOCATION.format(**SAMPLES), _location()).status_code == 1000
        assert ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/101", _session()).status_code == 1000
    reply = ocpi.call(method, template.format(**SAMPLES), raw_body=_raw(NUMBER_FIELDS[key][0]()))
    assert reply.status_code == 1000, reply.body


def test_numbers_at_the_edge_of_their_columns_are_stored(ocpi: OcpiTestClient, world: dict) -> None:
    tariff = _tariff()
    tariff["elements"][0]["price_components"][0].update(price=99999999.9999, vat=999.99, step_size=2147483647)
    reply = ocpi.put("/ocpi/2.2.1/tariffs/BE/BEC/12", tariff)
    _assert_envelope(reply, 201, 1000)


def test_more_tariff_elements_than_a_position_column_holds_are_2001(ocpi: OcpiTestClient, world: dict) -> None:
    tariff = {**_tariff(), "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 0}]}] * 32_769}
    reply = ocpi.put("/ocpi/2.2.1/tariffs/BE/BEC/12", tariff)
    _assert_envelope(reply, 200, 2001)
    assert "elements" in reply.body["status_message"]
    assert _rows() == world


def test_a_page_offset_beyond_any_column_is_2001(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.get("/ocpi/2.2.1/tokens?offset=" + "9" * 40)
    _assert_envelope(reply, 200, 2001)
    assert "offset" in reply.body["status_message"]


# --- enum values that do not fit their columns ----------------------------------------------------------------


@pytest.fixture
def location(ocpi: OcpiTestClient, world: dict) -> dict[str, Any]:
    body = _location()
    assert ocpi.put(LOCATION.format(**SAMPLES), body).http_status == 201
    return body


@pytest.mark.parametrize("status", ["S" * 17, "S" * 32])  # the column was 16 wide
def test_an_unknown_evse_status_is_stored_as_sent(ocpi: OcpiTestClient, location: dict, status: str) -> None:
    reply = ocpi.patch(f"{LOCATION.format(**SAMPLES)}/3256", {"status": status, **LAST_UPDATED})
    _assert_envelope(reply, 200, 1000)
    assert EvseStatusChange.objects.filter(status=status).count() == 1


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PATCH", "/3256", lambda: {"status": "S" * 33, **LAST_UPDATED}),  # the status-only fast path
        ("PATCH", "/3256", lambda: {"status": "S" * 33, "floor_level": "2", **LAST_UPDATED}),
        ("PUT", "/3256", lambda: {**_evse(), "status": "S" * 33}),
        ("PUT", "/3256/1", lambda: {**_connector(), "format": "F" * 33}),
        ("PUT", "", lambda: {**_location(), "parking_type": "P" * 33}),
    ],
    ids=["status-patch", "evse-patch", "evse-put", "connector-put", "location-put"],
)
def test_an_unknown_enum_value_longer_than_any_known_one_is_2001_naming_the_field(
    ocpi: OcpiTestClient, location: dict, method: str, url: str, body: Callable[[], dict[str, Any]]
) -> None:
    before = _rows()
    reply = ocpi.call(method, LOCATION.format(**SAMPLES) + url, body())
    _assert_envelope(reply, 200, 2001)
    assert re.search(r"\b(status|format|parking_type)\b", reply.body["status_message"])
    assert "at most 32" in reply.body["status_message"]
    assert _rows() == before


# --- ids twice where they are stored once --------------------------------------------------------------------


def _twice(items: str, body: dict[str, Any]) -> dict[str, Any]:
    return {**body, items: [body[items][0], body[items][0]]}


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("PUT", "", lambda: _twice("evses", _location()), "evses"),
        ("PUT", "/3256", lambda: _twice("connectors", _evse()), "connectors"),
        ("PATCH", "", lambda: {**LAST_UPDATED, "evses": [_evse(), _evse()]}, "evses"),
        ("PATCH", "/3256", lambda: {**LAST_UPDATED, "connectors": [_connector(), _connector()]}, "connectors"),
    ],
    ids=["location-put", "evse-put", "location-patch", "evse-patch"],
)
def test_the_same_evse_or_connector_twice_in_one_push_is_2001(
    ocpi: OcpiTestClient, location: dict, method: str, url: str, body: Callable[[], dict[str, Any]], field: str
) -> None:
    before = _rows()
    reply = ocpi.call(method, LOCATION.format(**SAMPLES) + url, body())
    _assert_envelope(reply, 200, 2001)  # the database's unique constraint made it a 500
    assert f"Invalid value for {field}:" in reply.body["status_message"]
    assert "appears twice" in reply.body["status_message"]
    assert _rows() == before


# --- bodies too big, too many fields --------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_20_mb_body_is_413(ocpi: OcpiTestClient, world: dict, endpoint: Endpoint) -> None:
    reply = ocpi.call(endpoint.method, endpoint.url(), raw_body=b'{"pad": "' + b"x" * 20_000_000 + b'"}')
    _assert_envelope(reply, 413, 2001)
    assert _rows() == world
    log = OcpiRequestLog.objects.get()
    assert (log.http_status, log.request_body) == (413, "")  # the body was not read, not even for the log


def test_the_body_limit_is_a_setting(ocpi: OcpiTestClient, world: dict, settings: DjangoSettings) -> None:
    settings.OCPI_MAX_BODY_BYTES = 100
    url = "/ocpi/2.2.1/tokens/NOPE/authorize"
    fits = b'{"location_id": "' + b"L" * 36 + b'", "pad": "' + b"x" * 34 + b'"}'
    assert len(fits) == 100
    _assert_envelope(ocpi.call("POST", url, raw_body=fits), 404, 2004)
    _assert_envelope(ocpi.call("POST", url, raw_body=fits + b" "), 413, 2001)


def test_a_body_over_djangos_own_limit_is_413_too(ocpi: OcpiTestClient, world: dict, settings: DjangoSettings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10  # below OCPI_MAX_BODY_BYTES, which the settings file never allows
    reply = ocpi.call("POST", "/ocpi/2.2.1/tokens/NOPE/authorize", raw_body=b'{"location_id": "LOC1"}')
    _assert_envelope(reply, 413, 2001)


def test_too_many_query_parameters_are_400(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.post("/ocpi/2.2.1/tokens/04A1B2C3/authorize?" + "&".join(["a=1"] * 1001), None)
    _assert_envelope(reply, 400, 2001)
    assert _rows() == world


# --- URLs -----------------------------------------------------------------------------------------------------


def _expected_for_bad(param: str) -> tuple[int, int]:
    return (404, 2000) if param in PATTERNED else (404, 2001)


@pytest.mark.parametrize(("endpoint", "param"), WITH_IDS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", ["X" * 37, "X" * 40, "X%00", "%00", "caf%C3%A9", "a%09b"], ids=repr)
def test_ids_that_cannot_be_ocpi_ids_get_a_404_envelope(
    ocpi: OcpiTestClient, world: dict, endpoint: Endpoint, param: str, value: str
) -> None:
    reply = ocpi.call(endpoint.method, endpoint.url(**{param: value}), {"last_updated": "2030-01-01T00:00:00Z"})
    _assert_envelope(reply, *_expected_for_bad(param))
    assert _rows() == world


def test_a_nul_in_the_uid_to_authorize_is_2001(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.post("/ocpi/2.2.1/tokens/04A1B2C3%00/authorize", None)
    _assert_envelope(reply, 404, 2001)
    assert "token_uid" in reply.body["status_message"]


@pytest.mark.parametrize(("endpoint", "param"), WITH_IDS, ids=lambda v: str(v))
@pytest.mark.parametrize("value", ["H1%2FX", "..%2F..%2FH1", "%2F"], ids=repr)
def test_encoded_slashes_in_ids_get_an_envelope(
    ocpi: OcpiTestClient, world: dict, endpoint: Endpoint, param: str, value: str
) -> None:
    # WSGI hands Django the decoded path, so %2F is a slash: the URL is read as another (or no) endpoint.
    reply = ocpi.call(endpoint.method, endpoint.url(**{param: value}))
    assert reply.http_status < 500, reply.body
    assert 2000 <= reply.status_code < 3000
    assert _rows() == world


UNKNOWN_PATHS = [
    "/ocpi/",
    "/ocpi/2.2.1/nope",
    "/ocpi/2.2.1/hubclientinfo",
    "/ocpi/2.1.1/hubclientinfo/BE/BEC",  # 2.2 on
    "/ocpi/2.0/locations/BE/BEC/LOC1",
    "/ocpi/9.9/versions",
    "/ocpi/versions/2.2.1",
    "/ocpi/2.2.1/locations",
    "/ocpi/2.2.1/locations/BE",
    "/ocpi/2.2.1/locations/BE/BEC/LOC1/3256/1/extra",
    "/ocpi/2.2.1/tokens/04A1B2C3",
    "/ocpi/2.2.1/tokens/04A1B2C3/authorize/again",
    "/ocpi/2.2.1/commands/START_SESSION",
    "/ocpi/2.2.1/cdrs/not-a-number",
]


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
@pytest.mark.parametrize("method", [*METHODS, "OPTIONS"])
def test_unknown_paths_get_a_404_envelope(ocpi: OcpiTestClient, world: dict, path: str, method: str) -> None:
    reply = ocpi.call(method, path, {"last_updated": "2030-01-01T00:00:00Z"})
    _assert_envelope(reply, 404, 2000)
    assert reply.headers["X-Request-ID"]  # answered by the OCPI view machinery
    assert OcpiRequestLog.objects.get().http_status == 404
    assert _rows() == world


def test_unknown_paths_authenticate_first(client: Client, db: None) -> None:
    reply = OcpiTestClient(client, "not-a-token").get("/ocpi/2.2.1/nope")
    _assert_envelope(reply, 401, 2000)


def test_token_a_learns_that_a_path_is_unknown(client: Client, db: None) -> None:
    _, token_a = partner_invite(name="New CPO")
    _assert_envelope(OcpiTestClient(client, token_a).get("/ocpi/2.2.1/credential"), 404, 2000)


@pytest.mark.parametrize("endpoint", _unimplemented(), ids=str)
def test_methods_an_endpoint_does_not_serve_get_a_405_envelope(
    ocpi: OcpiTestClient, world: dict, endpoint: Endpoint
) -> None:
    reply = ocpi.call(endpoint.method, endpoint.url(), {"last_updated": "2030-01-01T00:00:00Z"})
    _assert_envelope(reply, 405, 2000)
    assert _rows() == world


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PARSE", "PARSE_JSON", "DISPATCH", "SETUP", "REQUIRE_PARTY"])
def test_made_up_methods_never_reach_the_views_helpers(ocpi: OcpiTestClient, world: dict, method: str) -> None:
    reply = ocpi.call(method, LOCATION.format(**SAMPLES), _location())
    _assert_envelope(reply, 405, 2000)
    assert _rows() == world
    assert OcpiRequestLog.objects.get().method == method[:8]  # the column's width: the row is still written


def test_options_lists_the_methods_in_an_envelope(ocpi: OcpiTestClient, world: dict) -> None:
    reply = ocpi.call("OPTIONS", "/ocpi/2.2.1/tariffs/BE/BEC/12")
    _assert_envelope(reply, 200, 1000)
    assert set(reply.headers["Allow"].split(", ")) == {"GET", "PUT", "DELETE", "HEAD", "OPTIONS"}


# --- Django's own error pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 404, 500])
def test_djangos_error_pages_are_envelopes_under_ocpi_only(status: int) -> None:
    handler = get_resolver().resolve_error_handler(status)
    args = () if status == 500 else (Exception("boom"),)
    ocpi = handler(RequestFactory().get("/ocpi/2.2.1/locations"), *args)
    assert ocpi.status_code == status
    body = json.loads(ocpi.content)
    assert body["status_code"] == (3000 if status == 500 else 2000)
    assert "boom" not in ocpi.content.decode()
    other = handler(RequestFactory().get("/admin/nope"), *args)
    assert (other.status_code, other["Content-Type"].split(";")[0]) == (status, "text/html")
