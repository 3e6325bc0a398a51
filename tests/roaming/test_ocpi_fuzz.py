"""Property-based fuzzing of every OCPI endpoint we serve, in every version we route (hypothesis).

For each endpoint (method and route, read from roaming/ocpi/urls.py as test_hostile_input does; a test checks
that every route of the URLconf is among them), generated requests: bodies shaped by the pydantic model the view
reads (valid-ish ones that follow its schema with the URL's ids, broken ones with a field dropped or replaced by
any JSON, and any JSON at all), ids in the URL replaced by any text, any query string. Whatever comes in:

- the answer is never a 5xx;
- the answer is an OCPI envelope (JSON object, integer `status_code`, `timestamp`; a message when refused);
- a refused request (status_code other than 1000) writes nothing: the row count of every table stays the same.

`make test` tries a few examples per endpoint; `make test-slow` (FUZZ_PROFILE=slow) many more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.urls import resolve
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from roaming.models import OcpiRequestLog, Partner
from roaming.ocpi import urls as ocpi_urls
from roaming.ocpi.v2_2_1 import CommandResult
from roaming.ocpi.v2_3_0 import InvoiceReconciliationRecord
from roaming.ocpi.versions import WIRES, Wire
from tests.fuzzing import bodies, fuzz_settings, recent
from tests.roaming.conftest import OcpiTestClient
from tests.roaming.test_hostile_input import (
    BODY_METHODS,
    ENDPOINTS,
    SAMPLES,
    Endpoint,
    _location,
    _session,
    _tariff,
    world,  # noqa: F401 - a fixture
)

# The body model of each endpoint that reads one: (module, method, number of URL parameters) → model of the wire.
BODY_MODELS: dict[tuple[str, str, int], Callable[[Wire], type[BaseModel]]] = {
    ("credentials", "POST", 0): lambda w: w.Credentials,
    ("credentials", "PUT", 0): lambda w: w.Credentials,
    ("locations", "PUT", 3): lambda w: w.Location,
    ("locations", "PUT", 4): lambda w: w.EVSE,
    ("locations", "PUT", 5): lambda w: w.Connector,
    ("locations", "PATCH", 3): lambda w: w.LocationPatch,
    ("locations", "PATCH", 4): lambda w: w.EVSEPatch,
    ("locations", "PATCH", 5): lambda w: w.ConnectorPatch,
    ("tariffs", "PUT", 3): lambda w: w.Tariff,
    ("tariffs", "PATCH", 3): lambda w: w.Tariff,  # 2.1.1: the fields that change, merged into the tariff
    ("sessions", "PUT", 3): lambda w: w.Session,
    ("sessions", "PATCH", 3): lambda w: w.SessionPatch,
    ("cdrs", "POST", 0): lambda w: w.CDR,
    ("cdrs", "POST", 1): lambda w: w.CDR,
    ("tokens", "POST", 1): lambda w: w.LocationReferences,
    ("commands", "POST", 2): lambda w: CommandResult,
    ("hubclientinfo", "PUT", 2): lambda w: w.hubs.ClientInfo if w.hubs else w.Location,
    ("invoicereconciliation", "POST", 0): lambda w: InvoiceReconciliationRecord,
    ("invoicereconciliation", "PUT", 3): lambda w: InvoiceReconciliationRecord,
}
#: The body field that names the object of the URL, per module and URL parameter.
ID_FIELDS = {"location_id": "id", "evse_uid": "uid", "connector_id": "id", "tariff_id": "id", "session_id": "id"}
ID_FIELDS_BY_MODULE = {"invoicereconciliation": {"record_id": "id"}}
#: Nothing off this machine: a credentials URL that refuses connections at once.
UNREACHABLE = "http://127.0.0.1:1/ocpi/versions"


def _parts(endpoint: Endpoint) -> tuple[str, str]:
    """(version, module) of an endpoint's route."""
    match = re.match(r"/ocpi/(?P<version>[0-9.]+)(?:/(?P<module>[a-z]+))?", endpoint.template)
    if match is None:
        return "", "versions"
    return match["version"], match["module"] or "versions"


def _model(endpoint: Endpoint) -> type[BaseModel] | None:
    version, module = _parts(endpoint)
    make = BODY_MODELS.get((module, endpoint.method, len(endpoint.params)))
    return make(WIRES[version]) if make else None


def _rows() -> dict[str, int]:
    """Row counts of every table a request could write (the request log aside: it records refusals too)."""
    names = ("roaming", "drivers", "billing", "emsp", "api")
    models = [m for name in names for m in apps.get_app_config(name).get_models()]
    return {m._meta.label: m._default_manager.count() for m in models if m is not OcpiRequestLog}


#: Refusals that are decisions we keep: a real-time authorization of a token we do not know (2004) is recorded
#: with its reason, so that support can answer "why did my charge fail?" (roaming/models/authorizations.py).
RECORDED_REFUSALS = {("tokens", 2004): "roaming.Authorization"}


def _kept(before: dict[str, int], endpoint: Endpoint, status_code: int) -> dict[str, int]:
    """The row counts after a refusal: the same, but for a decision recorded as one row."""
    table = RECORDED_REFUSALS.get((_parts(endpoint)[1], status_code))
    return {**before, table: before[table] + 1} if table else before


def _align(body: Any, endpoint: Endpoint, url: dict[str, str]) -> Any:
    """A generated document given the URL's party and ids, so that it reaches the code that stores it."""
    if not isinstance(body, dict):
        return body
    _, module = _parts(endpoint)
    if "country_code" in body:
        body.update(country_code=SAMPLES["country_code"], party_id=SAMPLES["party_id"])
    last = endpoint.params[-1] if endpoint.params else ""
    field = {**ID_FIELDS, **ID_FIELDS_BY_MODULE.get(module, {})}.get(last)
    if field:
        body[field] = url[last]
    if "last_updated" in body and endpoint.method == "PATCH":
        body["last_updated"] = recent()
    if module == "credentials":
        body["url"] = UNREACHABLE
    return body


@st.composite
def requests(draw: st.DrawFn, endpoint: Endpoint) -> tuple[str, bytes | None]:
    """(URL, body) for one call of `endpoint`."""
    url = {p: SAMPLES[p] for p in endpoint.params}
    for param in endpoint.params:
        if draw(st.integers(0, 5)) == 0:  # now and then, any text as an id
            url[param] = quote(draw(st.text(min_size=1, max_size=40)), safe="")
    path = endpoint.url(**url)
    if endpoint.method == "GET" and draw(st.booleans()):
        names = st.sampled_from(["offset", "limit", "date_from", "date_to", "type", "x"])
        values = st.text(max_size=24) | st.integers(-(2**70), 2**70).map(str)
        path += "?" + urlencode(draw(st.dictionaries(names, values, max_size=4)))
    if endpoint.method not in BODY_METHODS:
        return path, None
    model = _model(endpoint)
    assert model is not None, f"{endpoint} reads a body: name its model in BODY_MODELS"
    body = draw(bodies(model))
    if draw(st.integers(0, 3)) > 0:
        body = _align(body, endpoint, url)
    return path, json.dumps(body).encode()


@pytest.fixture
def stored(ocpi: OcpiTestClient, world: dict[str, int]) -> None:  # noqa: F811
    """What the PATCH, GET and DELETE endpoints look for: a location, a session and a tariff of BE/BEC."""
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", _location()).status_code == 1000
    assert ocpi.put("/ocpi/2.2.1/sessions/BE/BEC/101", _session()).status_code == 1000
    assert ocpi.put("/ocpi/2.2.1/tariffs/BE/BEC/12", _tariff()).status_code == 1000


def test_every_route_of_the_urlconf_is_fuzzed() -> None:
    fuzzed = {resolve(e.url()).url_name for e in ENDPOINTS}
    routed = {p.name for p in ocpi_urls.urlpatterns} - {"ocpi-unknown-path"}
    assert routed - fuzzed == set(), "routes no endpoint of the fuzz tests reaches"
    with_body = [e for e in ENDPOINTS if e.method in BODY_METHODS]
    assert [str(e) for e in with_body if _model(e) is None] == []


def test_every_version_we_speak_is_routed() -> None:
    assert set(WIRES) == set(ocpi_urls.MODULES)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_fuzzed_requests_get_an_envelope_never_a_5xx_and_refusals_write_nothing(
    ocpi: OcpiTestClient, cpo: tuple[Partner, str], stored: None, endpoint: Endpoint
) -> None:
    @fuzz_settings()
    @given(request=requests(endpoint))
    def call(request: tuple[str, bytes | None]) -> None:
        path, body = request
        before = _rows()
        response = ocpi.client.generic(
            endpoint.method, path, data=body or b"", content_type="application/json", headers=ocpi.headers
        )
        assert response.status_code < 500, (path, body, response.content[:500])
        assert response["Content-Type"].startswith("application/json"), (path, response.content[:200])
        envelope = json.loads(response.content)
        assert isinstance(envelope, dict), envelope
        assert isinstance(envelope["status_code"], int), envelope
        assert envelope["timestamp"].endswith("Z")
        if envelope["status_code"] != 1000:
            assert 2000 <= envelope["status_code"] < 4000, envelope
            assert envelope.get("status_message"), envelope
            assert _rows() == _kept(before, endpoint, envelope["status_code"]), (path, body, envelope)

    call()
