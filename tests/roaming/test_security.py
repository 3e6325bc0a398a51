"""Security of the OCPI side: a partner only ever touches its own objects, on every path; wrong tokens are
throttled per source address; credentials tokens are kept hashed (theirs) and encrypted (ours) and appear in no
log, request log row or error page.

The endpoints are those of test_hostile_input (every route of roaming/ocpi/urls.py, every method its view serves),
so a new route is checked here from the moment it is routed; one whose URL names no party must be classified in
NO_PARTY_IN_URL (a test fails until it is).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.cache import cache
from django.db import connection
from django.test import Client
from pytest_django.fixtures import Settings as DjangoSettings

from roaming.models import Command, OcpiRequestLog, Partner, hash_token
from roaming.ocpi.versions import WIRES, Wire
from tests.conftest import closed_port_url
from tests.roaming.conftest import OcpiTestClient, Reply, registered_partner
from tests.roaming.test_hostile_input import (
    ENDPOINTS,
    NUMBER_FIELDS,
    SAMPLES,
    Endpoint,
    _cdr,
    _location,
    _session,
    _tariff,
)

OTHER = {"country_code": "NL", "party_id": "OTH"}
REFERENCE = "0b7f6c1e-5d2a-4e6f-9b1c-2a3d4e5f6a7b"
#: Ids of the other party's objects in URLs (the cdr_pk is filled in once its CDR is stored).
OTHER_IDS = {**SAMPLES, **OTHER, "reference": REFERENCE, "record_id": "IR1"}

#: Endpoints whose URL names no party, and why the caller cannot reach another party's objects through them.
NO_PARTY_IN_URL = {
    "GET /ocpi/versions": "our versions list: the same for every partner",
    "GET /ocpi/{version}": "our version details: the same for every partner",
    "GET /ocpi/{version}/credentials": "the caller's own connection (checked below: its roles, never another's)",
    "POST /ocpi/{version}/credentials": "the caller's own connection (token A only)",
    "PUT /ocpi/{version}/credentials": "the caller's own connection",
    "DELETE /ocpi/{version}/credentials": "the caller's own connection",
    "GET /ocpi/{version}/tokens": "our tokens, which every CPO may read",
    "POST /ocpi/{version}/tokens/{token_uid}/authorize": "our tokens, which every CPO may authorize",
    "GET /ocpi/{version}/cdrs": "405: we are a CDRs Receiver, there is no list",
    "GET /ocpi/{version}/invoicereconciliation": "our records (reverse billing): the caller's only",
    # Reached below with the other party's object:
    "GET /ocpi/{version}/cdrs/{cdr_pk}": "the other party's CDR by its number",
    "POST /ocpi/{version}/cdrs/{cdr_pk}": "the other party's CDR by its number",
    "POST /ocpi/{version}/cdrs": "a CDR whose body names the other party",
    "POST /ocpi/{version}/commands/{command_type}/{reference}": "the other partner's command: its result",
    "POST /ocpi/{version}/invoicereconciliation": "a record whose body names the other party",
}
SHARED = {key for key, why in NO_PARTY_IN_URL.items() if not why.startswith(("the other", "a CDR", "a record"))}
CONFIGURATION = ("versions", "credentials", "hubclientinfo")


def _generic(endpoint: Endpoint) -> str:
    return re.sub(r"/ocpi/\d+\.\d+\.\d+", "/ocpi/{version}", str(endpoint))


def _wire(endpoint: Endpoint) -> Wire | None:
    """The endpoint's version (None for the versions list, which has none)."""
    return WIRES.get(endpoint.template.split("/")[2])


def _theirs(body: Any) -> Any:
    """A body of ours, made the other party's."""
    if isinstance(body, dict):
        return {k: OTHER.get(k, _theirs(v)) if k in OTHER else _theirs(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_theirs(item) for item in body]
    return body


def _record() -> dict[str, Any]:
    return {**OTHER, "id": "IR1", "invoice_id": "INV-1", "cdrs": ["CDR-1"], "last_updated": "2026-04-02T10:00:00Z"}


def _body(endpoint: Endpoint) -> Any:
    """A body the other party could send itself at `endpoint` (one that would be stored)."""
    if endpoint.method not in ("POST", "PUT", "PATCH"):
        return None
    if str(endpoint) in NUMBER_FIELDS:
        return _theirs(NUMBER_FIELDS[str(endpoint)][0]())
    generic = _generic(endpoint)
    if "invoicereconciliation" in generic:
        return _record()
    if "hubclientinfo" in generic:
        return {**OTHER, "role": "CPO", "status": "CONNECTED", "last_updated": "2030-01-01T00:00:00Z"}
    if "commands" in generic:
        return {"result": "ACCEPTED"}
    if "cdrs" in generic:
        return _theirs(_cdr())
    return {}


def _rows() -> dict[str, int]:
    models = [
        m for name in ("roaming", "drivers", "billing", "emsp", "api") for m in apps.get_app_config(name).get_models()
    ]
    return {m._meta.label: m._default_manager.count() for m in models if m is not OcpiRequestLog}


class Other:
    """The other partner (NL/OTH) and its objects, read back as it reads them."""

    def __init__(self, client: Client) -> None:
        self.partner, self.token = registered_partner("Other CPO", [("NL", "OTH")])
        self.ocpi = OcpiTestClient(client, self.token)
        assert self.ocpi.put("/ocpi/2.2.1/locations/NL/OTH/LOC1", _theirs(_location())).status_code == 1000
        assert self.ocpi.put("/ocpi/2.2.1/sessions/NL/OTH/101", _theirs(_session())).status_code == 1000
        assert self.ocpi.put("/ocpi/2.2.1/tariffs/NL/OTH/12", _theirs(_tariff())).status_code == 1000
        assert self.ocpi.put("/ocpi/2.3.0/invoicereconciliation/NL/OTH/IR1", _record()).status_code == 1000
        cdr = self.ocpi.post("/ocpi/2.2.1/cdrs", _theirs(_cdr()))
        assert cdr.status_code == 1000, cdr.body
        self.cdr_url = cdr.headers["Location"].split("/ocpi", 1)[1]
        self.ids = {**OTHER_IDS, "cdr_pk": self.cdr_url.rsplit("/", 1)[1]}
        Command.objects.create(partner=self.partner, type="START_SESSION", reference=uuid.UUID(REFERENCE))

    def snapshot(self) -> dict[str, Any]:
        """Everything of the other party's, as it reads it, and every table's row count."""
        urls = [
            "/ocpi/2.2.1/locations/NL/OTH/LOC1",
            "/ocpi/2.2.1/sessions/NL/OTH/101",
            "/ocpi/2.2.1/tariffs/NL/OTH/12",
            "/ocpi/2.3.0/invoicereconciliation/NL/OTH/IR1",
            "/ocpi" + self.cdr_url,
        ]
        command = Command.objects.values().get(reference=uuid.UUID(REFERENCE))
        return {"objects": [self.ocpi.get(url).data for url in urls], "command": command, "rows": _rows()}


@pytest.fixture
def other(client: Client, cpo: tuple[Partner, str]) -> Other:
    return Other(client)


def _refused(reply: Reply) -> None:
    assert 400 <= reply.http_status < 500, reply.body
    assert reply.status_code != 1000, reply.body
    assert reply.body["status_message"]


def test_every_endpoint_is_either_party_addressed_or_classified() -> None:
    unclassified = [str(e) for e in ENDPOINTS if "country_code" not in e.params and _generic(e) not in NO_PARTY_IN_URL]
    assert unclassified == []


def _module(endpoint: Endpoint) -> str:
    parts = endpoint.template.split("/")
    return parts[3] if len(parts) > 3 else "versions"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_a_partner_cannot_read_or_write_another_partys_objects(
    ocpi: OcpiTestClient, other: Other, endpoint: Endpoint
) -> None:
    before = other.snapshot()
    checked = 0
    generic, wire = _generic(endpoint), _wire(endpoint)
    body_named = NO_PARTY_IN_URL.get(generic, "").startswith(("a CDR", "a record"))
    # The other party's objects, by URL (or by a body that names the party, where the version's bodies do).
    if generic not in SHARED and (not body_named or "party_id" in (_body(endpoint) or {})):
        reply = ocpi.call(endpoint.method, endpoint.url(**other.ids), _body(endpoint))
        _refused(reply)
        assert "OTH" not in json.dumps(reply.body.get("data"))  # nothing of theirs in the answer
        assert other.snapshot() == before
        checked += 1
    body = _body(endpoint)
    # By body, under our own URL (2.1.1 objects name no party: it is the URL's).
    if "country_code" in endpoint.params and endpoint.method in ("PUT", "POST") and "party_id" in (body or {}):
        reply = ocpi.call(endpoint.method, endpoint.url(), body)
        assert reply.status_code != 1000, reply.body
        assert other.snapshot() == before
        checked += 1
    # By routing headers (2.2 on); configuration modules read none (OCPI: SHALL NOT be used) and concern only the
    # caller's own connection.
    routing_headers = wire is not None and wire.routing_headers
    if _module(endpoint) not in CONFIGURATION and routing_headers:
        headers = {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "OTH"}
        reply = ocpi.call(endpoint.method, endpoint.url(), _body(endpoint), headers=headers)
        assert (reply.http_status, reply.status_code) == (403, 2001), reply.body
        assert "NL/OTH" in reply.body["status_message"]
        assert other.snapshot() == before
        checked += 1
    # Unchecked: configuration; and in 2.1.1 (no routing headers, no party in bodies) what every CPO shares and a
    # CDR, which is always the caller's own.
    unchecked = _module(endpoint) in CONFIGURATION or (not routing_headers and (generic in SHARED or body_named))
    assert checked or unchecked, "every other endpoint is checked one way at least"


def test_credentials_get_shows_the_callers_connection_only(ocpi: OcpiTestClient, other: Other) -> None:
    for version in WIRES:
        data = ocpi.get(f"/ocpi/{version}/credentials").data
        assert "OTH" not in json.dumps(data)
        assert other.token not in json.dumps(data)


# --- tokens: stored hashed and encrypted, shown nowhere ---------------------------------------------------


def _every_stored_value() -> str:
    """Every column of every row of every table, as text."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # nosec B608 - names from the schema
            chunks += [repr(row) for row in cursor.fetchall()]
    return "\n".join(chunks)


def test_tokens_are_stored_hashed_theirs_and_encrypted_ours(cpo: tuple[Partner, str], settings: DjangoSettings) -> None:
    partner, theirs = cpo
    partner.outgoing_token = ours = "our-token-" + uuid.uuid4().hex
    partner.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_hash FROM roaming_credentialstoken WHERE partner_id = %s", [partner.pk])
        assert cursor.fetchall() == [(hash_token(theirs),)]
        cursor.execute("SELECT outgoing_token_encrypted FROM roaming_partner WHERE id = %s", [partner.pk])
        (encrypted,) = cursor.fetchone()
    assert Fernet(settings.OCPI_TOKEN_ENCRYPTION_KEY.encode()).decrypt(encrypted.encode()).decode() == ours
    stored = _every_stored_value()  # the history tables too
    assert theirs not in stored
    assert ours not in stored
    assert base64.b64encode(theirs.encode()).decode() not in stored


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The log lines the platform writes (its own console handler, JSON formatter and filters), at every level."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if isinstance(h, logging.StreamHandler) and h.filters)
    buffer = io.StringIO()
    stream, level = handler.setStream(buffer), root.level
    root.setLevel(logging.DEBUG)
    yield buffer
    root.setLevel(level)
    handler.setStream(stream)


def test_tokens_never_appear_in_logs_request_log_rows_or_error_pages(
    client: Client, ocpi: OcpiTestClient, other: Other, json_logs: io.StringIO, cpo: tuple[Partner, str]
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    pages = [
        OcpiTestClient(client, wrong).get("/ocpi/2.2.1/locations/BE/BEC/LOC1"),  # 401
        OcpiTestClient(client, wrong, raw=True).get("/ocpi/2.2.1/credentials"),  # 401
        ocpi.get("/ocpi/2.2.1/credentials"),  # echoes the caller's token: OCPI says so; the log row must not
        ocpi.put("/ocpi/2.2.1/credentials", {"token": wrong, "url": "http://127.0.0.1:1/versions", "roles": []}),
        ocpi.call("PUT", "/ocpi/2.2.1/locations/BE/BEC/LOC1", raw_body=b"{not json"),
        ocpi.get("/ocpi/2.2.1/locations/NL/OTH/LOC1"),  # another party's
    ]
    assert [p.http_status for p in pages[:2]] == [401, 401]
    logs = json_logs.getvalue()
    rows = "\n".join(repr(row) for row in OcpiRequestLog.objects.values_list())
    for secret in (wrong, other.token, cpo[1]):
        for form in (secret, base64.b64encode(secret.encode()).decode()):
            assert form not in logs
            assert form not in rows
            assert all(form not in json.dumps(p.body) for p in (*pages[:2], *pages[3:]))
    assert OcpiRequestLog.objects.count() >= len(pages)
    assert '"level": "WARNING", "logger": "django.request", "message": "Unauthorized' in logs  # JSON lines captured


# --- throttling of wrong tokens ------------------------------------------------------------------------------


@pytest.fixture
def throttle(db: None, settings: DjangoSettings) -> int:
    settings.OCPI_AUTH_FAILURE_LIMIT = 3
    settings.OCPI_AUTH_FAILURE_WINDOW_SECONDS = 60
    cache.delete_many(["ocpi-auth-failures:127.0.0.1", "ocpi-auth-failures:10.9.8.7"])  # what a run before left
    return 3


def _wrong(client: Client, address: str = "127.0.0.1") -> Any:
    headers = {"Authorization": "Token not-a-token"}
    return client.get("/ocpi/2.2.1/locations/BE/BEC/LOC1", headers=headers, REMOTE_ADDR=address)


def test_repeated_authentication_failures_from_one_address_get_429_in_an_envelope(
    client: Client, ocpi: OcpiTestClient, throttle: int
) -> None:
    answers = [_wrong(client).status_code for _ in range(throttle + 2)]
    assert answers == [401] * throttle + [429, 429]
    refused = _wrong(client)
    body = json.loads(refused.content)
    assert (refused.status_code, body["status_code"]) == (429, 2000)
    assert "Too many" in body["status_message"]
    assert body["timestamp"].endswith("Z")
    assert refused["Retry-After"] == "60"
    assert OcpiRequestLog.objects.filter(http_status=429).count() == 3  # logged as any refusal
    # Another address is not affected, nor is a good token from the throttled one.
    assert _wrong(client, "10.9.8.7").status_code == 401
    assert ocpi.get("/ocpi/2.2.1/tokens").http_status == 200


def test_the_throttle_window_opens_at_the_first_failure_and_ends(
    client: Client, throttle: int, time_machine: Any
) -> None:
    time_machine.move_to("2030-01-01T00:00:00Z", tick=False)
    for _ in range(throttle + 1):
        _wrong(client)
    assert _wrong(client).status_code == 429
    key = "ocpi-auth-failures:127.0.0.1"
    if hasattr(cache, "ttl"):  # Redis keeps time itself: the key expires with the window
        assert 0 < cache.ttl(key) <= 60
    else:  # the in-process cache reads the (travelled) clock
        time_machine.move_to("2030-01-01T00:01:01Z", tick=False)
    if hasattr(cache, "ttl"):
        cache.delete(key)  # what Redis does at the end of the window
    assert _wrong(client).status_code == 401


def test_with_the_cache_down_authentication_fails_open_to_401(
    client: Client, ocpi: OcpiTestClient, throttle: int, settings: DjangoSettings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": closed_port_url()},
    }
    answers = [_wrong(client).status_code for _ in range(throttle + 3)]
    assert answers == [401] * (throttle + 3)
    assert "not counted (cache unavailable" in caplog.text
    assert ocpi.get("/ocpi/2.2.1/tokens").http_status == 200
