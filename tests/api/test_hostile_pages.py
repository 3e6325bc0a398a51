"""Page sizes and page numbers far beyond what the driver API serves: capped at the largest page (100), or refused
with the API's error body; never a 5xx."""

from __future__ import annotations

import pytest

from drivers.services import token_issue
from tests.api.conftest import signed_in
from tests.billing.factories import a_driver

pytestmark = pytest.mark.django_db

LISTS = ["/api/v1/cards", "/api/v1/history/sessions", "/api/v1/history/charges", "/api/v1/invoices"]
HOSTILE = ["page_size=1000000000", "page_size=" + "9" * 40, "page_size=-1", "page_size=%ff", "page=" + "9" * 40]


def test_a_huge_page_size_is_capped_at_100() -> None:
    driver = a_driver()
    for n in range(105):
        token_issue(driver=driver, uid=f"04CAFE{n:04d}")
    reply = signed_in(driver).get("/api/v1/cards?page_size=1000000000")
    assert reply.status_code == 200
    page = reply.json()
    assert (page["count"], len(page["results"])) == (106, 100)
    assert page["next"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_page_parameters_get_a_page_or_the_error_body(path: str, query: str) -> None:
    reply = signed_in(a_driver()).get(f"{path}?{query}")
    assert reply.status_code in (200, 404), reply.content[:300]
    body = reply.json()
    if reply.status_code == 404:
        assert body["error"]["type"] == "not_found"
    else:
        assert len(body["results"]) <= 100
