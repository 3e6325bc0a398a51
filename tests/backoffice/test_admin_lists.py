"""Admin lists at scale: honest counts (exact when cheap, an estimate said to be one), no SELECT DISTINCT over
big tables for filters and the date hierarchy, and every list of the back office renders with data in it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from emsp.lib.admin import CheapCountPaginator
from roaming.models import OcpiRequestLog, TokenPushCursor
from roaming.selectors import token_changes_pending
from tests.backoffice.conftest import a_log
from tests.billing.factories import a_partner

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")


class SmallLimit(CheapCountPaginator):
    exact_limit = 10


def _logs(count: int, **fields: Any) -> None:
    at = datetime(2025, 10, 3, 12, tzinfo=UTC)
    OcpiRequestLog.objects.bulk_create(
        OcpiRequestLog(created_at=at + timedelta(minutes=n), direction="in", method="PUT", url="/", **fields)
        for n in range(count)
    )


@pytest.mark.django_db
def test_a_count_within_the_limit_is_exact() -> None:
    _logs(10)

    paginator = SmallLimit(OcpiRequestLog.objects.order_by("-created_at"), 100)

    assert (paginator.count, paginator.count_label, paginator.count_is_exact) == (10, "10", True)
    assert paginator.num_pages == 1


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL estimates instead")
def test_past_the_limit_sqlite_says_more_than() -> None:
    _logs(25)

    paginator = SmallLimit(OcpiRequestLog.objects.filter(method="PUT"), 100)

    assert (paginator.count, paginator.count_label, paginator.count_is_exact) == (11, "more than 10", False)


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db(transaction=True)
def test_past_the_limit_postgresql_gives_the_planners_estimate_labelled_as_one() -> None:
    _logs(3000, http_status=200)
    _logs(1000, http_status=500)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {OcpiRequestLog._meta.db_table}")

    everything = SmallLimit(OcpiRequestLog.objects.order_by("-created_at"), 100)
    failed = SmallLimit(OcpiRequestLog.objects.filter(http_status=500), 100)
    few = SmallLimit(OcpiRequestLog.objects.filter(http_status=500, created_at__lt="2025-10-03T12:05:00Z"), 100)

    assert not everything.count_is_exact
    assert 3000 <= everything.count <= 5000  # the table's statistics: 4,000 rows
    assert everything.count_label == f"about {round(everything.count, -2):,}"
    assert not failed.count_is_exact
    assert 500 <= failed.count <= 2000  # the filter's selectivity from the statistics: 1,000
    assert failed.count_label.startswith("about ")
    assert (few.count, few.count_label, few.count_is_exact) == (5, "5", True)  # counted: within the limit


@pytest.mark.postgres
@postgres_only
@pytest.mark.django_db
def test_a_count_that_takes_too_long_gives_way_to_the_estimate_and_leaves_no_timeout_behind() -> None:
    _logs(40)
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    slow = OcpiRequestLog.objects.extra(where=["pg_sleep(0.05)::text = ''"])  # 50 ms a row, past the budget

    paginator = SmallLimit(slow, 100)
    paginator.time_budget_ms = 20

    assert paginator.count >= 11
    assert paginator.count_is_exact is False
    assert paginator.count_label.startswith(("about", "more than"))
    with connection.cursor() as cursor:  # the outer transaction (the test's) goes on, without the budget
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before
    assert OcpiRequestLog.objects.count() == 40


@pytest.mark.django_db
def test_the_list_shows_the_count_as_the_paginator_words_it(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    _logs(15)
    url = reverse("admin:roaming_ocpirequestlog_changelist")

    page = admin_client.get(url).content.decode()
    assert re.search(r"15\s+ocpi request logs", page)

    monkeypatch.setattr(CheapCountPaginator, "exact_limit", 10)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {OcpiRequestLog._meta.db_table}")
    page = admin_client.get(url).content.decode()
    expected = r"about [\d,]+" if connection.vendor == "postgresql" else "more than 10"
    assert re.search(rf"{expected}\s+ocpi request logs", page)
    assert "10000000" not in page


@pytest.mark.django_db
def test_the_request_log_list_reads_no_distinct_values_and_a_cheap_date_hierarchy(admin_client: Client) -> None:
    _logs(3)
    OcpiRequestLog.objects.create(created_at=datetime(2025, 12, 5, tzinfo=UTC), direction="in", method="GET", url="/")
    url = reverse("admin:roaming_ocpirequestlog_changelist")

    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get(url).content.decode()

    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"]]
    # October to December 2025 offered (November without rows too), from the first and last dates alone.
    months = re.findall(r"created_at__month=(\d+)&amp;created_at__year=2025", page)
    assert months == ["10", "11", "12"]
    assert 'href="?module=locations"' in page  # the module filter's values are given, not read
    days = admin_client.get(f"{url}?created_at__year=2025&created_at__month=10").content.decode()
    assert re.findall(r"created_at__day=(\d+)", days) == ["3"]
    assert len(admin_client.get(f"{url}?created_at__year=2025&created_at__month=11").context["cl"].result_list) == 0


@pytest.mark.django_db
def test_the_outcome_filter_lists_failed_exchanges(admin_client: Client) -> None:
    partner = a_partner()
    now = datetime.now(UTC)
    ok = a_log(partner, now)
    failures = [
        a_log(partner, now, http=None, ocpi=None, error="ReadTimeout"),
        a_log(partner, now, http=502, ocpi=None),
        a_log(partner, now, ocpi=2001),
        a_log(partner, now, http=200, ocpi=None, error="HTTP 200 without an OCPI envelope"),
    ]
    url = reverse("admin:roaming_ocpirequestlog_changelist")

    failed = admin_client.get(f"{url}?outcome=failed").context["cl"].result_list
    succeeded = admin_client.get(f"{url}?outcome=ok").context["cl"].result_list

    assert sorted(r.pk for r in failed) == sorted(r.pk for r in failures)
    assert [r.pk for r in succeeded] == [ok.pk]


@pytest.mark.django_db
def test_token_push_list_counts_pending_changes_in_one_query(
    admin_client: Client, business: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    url = reverse("admin:roaming_tokenpushcursor_changelist")

    response = admin_client.get(url)

    shown = {cursor.partner_id: cursor.pending_changes for cursor in response.context["cl"].result_list}
    assert shown == {cursor.partner_id: token_changes_pending(cursor) for cursor in TokenPushCursor.objects.all()}
    assert shown[business["ionity"].pk] == business["changes"]


@pytest.mark.django_db
def test_every_list_renders_with_data_by_default_and_with_its_first_filter(
    admin_client: Client, business: dict[str, Any]
) -> None:
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        start = page.find('id="changelist-filter"')
        links = re.findall(r'href="(\?[^"]+)"', page[start:]) if start >= 0 else []
        choice = next((link for link in links if "_facets" not in link), None)
        if choice:
            filtered = admin_client.get(url + choice.replace("&amp;", "&"))
            assert filtered.status_code == 200, url + choice
