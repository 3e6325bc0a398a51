"""Hostile input test_hostile_input leaves out: bodies that are not UTF-8, query strings that are not, and page
limits far beyond what we serve. Each is refused (or capped) with an OCPI envelope, before anything is written."""

from __future__ import annotations

import json

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from roaming.models import OcpiRequestLog
from tests.roaming.conftest import OcpiTestClient
from tests.roaming.test_hostile_input import WITH_BODY, Endpoint, _assert_refused, _rows, world  # noqa: F401


#: Bytes no UTF-8 decoder takes: a lone continuation byte, an overlong slash, a truncated euro sign, a surrogate
#: encoded as UTF-8 (CESU), a byte that never occurs in UTF-8, and Latin-1 text.
@pytest.fixture
def before(world: dict[str, int]) -> dict[str, int]:  # noqa: F811
    """The row counts once the endpoints' objects exist (test_hostile_input's world)."""
    return world


NOT_UTF8 = {
    "continuation": b'{"name": "\x80"}',
    "overlong": b'{"name": "\xc0\xaf"}',
    "truncated": b'{"name": "\xe2\x82"}',
    "cesu-surrogate": b'{"name": "\xed\xa0\x80"}',
    "ff": b'{"name": "\xff"}',
    "latin-1": '{"name": "Zürich Bahnhofstraße"}'.encode("latin-1"),
}


@pytest.mark.parametrize("endpoint", WITH_BODY, ids=str)
@pytest.mark.parametrize("body", NOT_UTF8.values(), ids=list(NOT_UTF8))
def test_bodies_that_are_not_utf8_are_refused(
    ocpi: OcpiTestClient, before: dict, endpoint: Endpoint, body: bytes
) -> None:
    reply = ocpi.call(endpoint.method, endpoint.url(), raw_body=body)
    _assert_refused(reply, endpoint, before, 400, "not valid JSON")
    assert OcpiRequestLog.objects.get().request_body  # logged, as readable as it can be


@pytest.mark.parametrize("query", ["offset=%ff", "limit=%c0%af", "date_from=%ed%a0%80", "%ff=1"])
def test_query_strings_that_are_not_utf8_get_an_envelope(ocpi: OcpiTestClient, before: dict, query: str) -> None:
    reply = ocpi.get(f"/ocpi/2.2.1/tokens?{query}")
    assert reply.http_status < 500, reply.body
    assert reply.status_code in (1000, 2001), reply.body
    assert reply.body["timestamp"].endswith("Z")
    assert _rows() == before


@pytest.mark.parametrize("limit", ["1001", "1000000", str(2**31 - 1)])
def test_a_huge_page_limit_is_capped_to_our_maximum(
    ocpi: OcpiTestClient, before: dict, settings: DjangoSettings, limit: str
) -> None:
    settings.OCPI_PAGE_LIMIT_MAX = 1000
    reply = ocpi.get(f"/ocpi/2.2.1/tokens?limit={limit}")
    assert (reply.http_status, reply.status_code) == (200, 1000)
    assert reply.headers["X-Limit"] == "1000"  # the spec's way to say the page is smaller than asked


@pytest.mark.parametrize("limit", [str(2**31), "9" * 40, "-1", "1e9", "0x10"])
def test_page_limits_that_are_no_page_size_are_2001(ocpi: OcpiTestClient, before: dict, limit: str) -> None:
    reply = ocpi.get(f"/ocpi/2.2.1/tokens?limit={limit}")
    assert (reply.http_status, reply.status_code) == (200, 2001), reply.body
    assert "limit" in reply.body["status_message"]
    assert json.dumps(reply.body).count("data") == 0
