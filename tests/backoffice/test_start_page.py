"""The start page (/admin/): its figures are those of the rows put in, each links to the list it comes from,
and only staff see it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from backoffice.dashboard import ANOMALY_CACHE_KEY, start_page_context
from roaming.models import Cdr, Partner
from tests.backoffice.conftest import a_log, a_run
from tests.billing.factories import a_partner

pytestmark = pytest.mark.django_db


def _health(context: Any, partner: Partner) -> dict[str, Any]:
    return next(row for row in context["partners"] if row["partner"] == partner)


def test_the_start_page_shows_todays_figures_and_partner_health(admin_client: Client, business: dict[str, Any]) -> None:
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    context = response.context
    figures = {item["label"]: [f.text for f in item["figures"]] for item in context["today_figures"]}
    assert figures == {
        "Sessions started": ["2"],
        "Energy of these sessions": ["19.8 kWh"],  # 7.5 + 12.25
        "Revenue, excl. VAT (1 priced)": ["10.00 EUR"],
        "Our cost of them (CPO prices)": ["8.00 EUR"],
        "Open disputes, and at stake": ["1", "2.50 EUR"],
    }
    ionity, fastned = _health(context, business["ionity"]), _health(context, business["fastned"])
    assert (ionity["requests"].text, ionity["failed"].text, ionity["error_rate"].text) == ("4", "1", "25 %")
    assert (fastned["requests"].text, fastned["failed"].text, fastned["error_rate"].text) == ("2", "2", "100 %")
    assert ionity["last_error"]["text"] == "Unknown location"  # the request at 30 min beats the sync at 1 h
    assert ionity["last_error"]["url"] == f"/admin/roaming/ocpirequestlog/{business['failed_log'].pk}/change/"
    assert fastned["last_error"]["text"] == "ReadTimeout"
    syncs = {sync["module"]: sync for sync in ionity["syncs"]}
    assert syncs["locations"]["when"].text == "20 min ago"
    assert syncs["locations"]["failing"] is None
    assert syncs["cdrs"]["when"].text == "5 h ago"
    assert syncs["cdrs"]["failing"] is not None
    assert syncs["cdrs"]["error"] == "GET page 2: ReadTimeout"
    assert syncs["tariffs"]["when"].text == "never"
    assert (ionity["push_backlog"].text, ionity["push_failures"].text) == (str(business["changes"]), "2")
    assert (fastned["push_backlog"].text, fastned["push_failures"].text) == ("0", "0")
    assert (ionity["refused"].text, ionity["timeouts"].text) == ("2", "0")
    assert (fastned["refused"].text, fastned["timeouts"].text) == ("0", "1")
    flags = {flag["label"]: flag["count"] for flag in context["anomalies"]}
    assert flags == {
        "Sessions: card in more than one active session": 0,
        "Sessions: active for more than 24 hours": 0,
        "CDRs of the last 7 days: more energy than the connector's power allows": 0,
        "CDRs of the last 7 days: no session": 2,  # both CDRs of the fixture came without their session
    }


def test_each_anomaly_links_to_the_list_of_its_rows(admin_client: Client, business: dict[str, Any]) -> None:
    long_ago = business["ionity"].cdrs.order_by("pk")[:1].values_list("pk", flat=True)
    # Flagged too, but no longer the start page's (CDRs are immutable to the ORM's save; this is the test's setup).
    Cdr.objects.filter(pk__in=list(long_ago)).update(received_at=timezone.now() - timedelta(days=30))
    for flag in admin_client.get("/admin/").context["anomalies"]:
        listed = admin_client.get(flag["url"])
        assert listed.status_code == 200, flag
        assert listed.context["cl"].result_count == flag["count"], flag
    (no_session,) = [flag for flag in admin_client.get("/admin/").context["anomalies"] if "no session" in flag["label"]]
    assert no_session["count"] == 1


def test_the_anomaly_counts_are_kept_for_minutes_and_say_when(admin_client: Client, business: dict[str, Any]) -> None:
    """Counting them reads every CDR of the week with its connector: they are kept ANOMALY_COUNT_SECONDS."""
    first = admin_client.get("/admin/")
    # Both CDRs now a month old: no longer the start page's, but the counts stand until they expire.
    Cdr.objects.update(received_at=timezone.now() - timedelta(days=30))
    again = admin_client.get("/admin/")
    assert again.context["anomalies"] == first.context["anomalies"]
    assert again.context["anomalies_counted_at"] == first.context["anomalies_counted_at"]
    assert "(counted " in again.content.decode()
    cache.delete(ANOMALY_CACHE_KEY)
    counted = admin_client.get("/admin/").context
    assert counted["anomalies_counted_at"] > first.context["anomalies_counted_at"]
    assert sum(flag["count"] for flag in counted["anomalies"]) < sum(
        flag["count"] for flag in first.context["anomalies"]
    )


def test_every_figure_links_to_the_list_it_comes_from(admin_client: Client, business: dict[str, Any]) -> None:
    context = admin_client.get("/admin/").context
    ionity = _health(context, business["ionity"])
    pk = business["ionity"].pk

    failed_url = ionity["failed"].url
    assert failed_url.startswith(f"/admin/roaming/ocpirequestlog/?partner__id__exact={pk}&created_at__gte=")
    assert failed_url.endswith("&outcome=failed")
    assert ionity["error_rate"].url == failed_url
    # The lists behind the figures hold the rows counted: 1 failed request of Ionity's in the window, 4 in all.
    assert len(admin_client.get(failed_url).context["cl"].result_list) == 1
    assert len(admin_client.get(ionity["requests"].url).context["cl"].result_list) == 4
    assert len(admin_client.get(ionity["refused"].url).context["cl"].result_list) == 2
    timeouts = _health(context, business["fastned"])["timeouts"].url
    assert [c.result for c in admin_client.get(timeouts).context["cl"].result_list] == ["TIMEOUT"]
    sessions_today = context["today_figures"][0]["figures"][0].url
    assert len(admin_client.get(sessions_today).context["cl"].result_list) == 2
    revenue_today = context["today_figures"][2]["figures"][0].url
    assert [c.amount_excl_vat for c in admin_client.get(revenue_today).context["cl"].result_list] == [Decimal("10")]
    disputes = context["today_figures"][4]["figures"][1].url
    assert [d.amount_at_stake for d in admin_client.get(disputes).context["cl"].result_list] == [Decimal("2.5")]
    cdrs_sync = next(s for s in ionity["syncs"] if s["module"] == "cdrs")
    runs = admin_client.get(cdrs_sync["when"].url).context["cl"].result_list
    assert [(r.module, r.status) for r in runs] == [("cdrs", "succeeded")]
    html = admin_client.get("/admin/").content.decode()  # a moment later: the window moved on
    link = (
        rf'href="/admin/roaming/ocpirequestlog/\?partner__id__exact={pk}&amp;created_at__gte=[^"]+&amp;outcome=failed"'
    )
    assert re.search(link, html)


def test_the_charts_have_a_bar_per_day_with_the_days_figures(
    admin_client: Client, business: dict[str, Any], now: datetime
) -> None:
    context = admin_client.get("/admin/").context
    charts = context["charts"]

    assert [chart["title"].split(" (")[0].split(",")[0] for chart in charts] == [
        "Sessions per day",
        "Energy per day",
        "Revenue per day",
    ]
    for chart in charts:
        assert len(re.findall(r'<rect class="bar"', chart["svg"])) == 30
        assert len(chart["rows"]) == 30
    today, yesterday = timezone.localdate(now), timezone.localdate(now) - timedelta(days=1)
    sessions, energy, revenue = (dict(chart["rows"]) for chart in charts)
    assert (sessions[today], sessions[yesterday]) == ("2", "1")
    assert (energy[today], energy[yesterday]) == ("19.8 kWh", "30.0 kWh")
    assert (revenue[today], revenue[yesterday]) == ("10.00 EUR", "20.00 EUR")
    assert f"<title>{today.day} {today:%b}: 2 sessions</title>" in charts[0]["svg"]


def test_only_staff_see_the_start_page(client: Client, business: dict[str, Any]) -> None:
    assert client.get("/admin/").status_code == 302  # to the login page

    user = get_user_model().objects.create_user("driver-user", "d@example.com", "pw")
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_see_links_only_to_lists_they_may_view(client: Client, business: dict[str, Any]) -> None:
    staff = get_user_model().objects.create_user("support", "s@example.com", "pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_chargingsession"))
    client.force_login(staff)

    context = client.get("/admin/").context

    assert context["today_figures"][0]["figures"][0].url.startswith("/admin/roaming/chargingsession/?")
    assert context["today_figures"][2]["figures"][0].url == ""  # revenue: no view permission on charges
    assert _health(context, business["ionity"])["failed"].url == ""


def test_the_start_page_without_any_data(admin_client: Client) -> None:
    response = admin_client.get("/admin/")

    assert response.status_code == 200
    assert "No partners yet" in response.content.decode()
    assert len(response.context["charts"]) == 2  # no revenue in any currency: no revenue chart


def test_the_start_page_answers_in_a_fixed_number_of_queries(
    admin_client: Client, business: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    for n in range(5):  # more partners, more rows: not more queries
        partner = a_partner(f"CPO {n}")
        a_log(partner, timezone.now() - timedelta(minutes=5), http=500)
        a_run(partner, "locations", "succeeded", timezone.now())
    with django_assert_max_num_queries(20):
        admin_client.get("/admin/")


def test_start_page_context_is_the_days_in_the_admins_time_zone(rf: Any, business: dict[str, Any]) -> None:
    request = rf.get("/admin/")
    request.user = get_user_model().objects.create_superuser("root", "r@example.com", "pw")
    context = start_page_context(request)
    assert context["charts"][0]["rows"][-1][0] == context["today"]
    assert len({day for day, _ in context["charts"][0]["rows"]}) == 30
