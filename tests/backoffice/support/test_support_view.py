"""The support view of a driver: every part shows the driver's rows and no one else's, the search finds a driver by
each key a caller can give, only staff who may view drivers see it, and its queries do not grow with the driver's
history."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import CdrPrice
from drivers.models import ChargeReason, Driver
from roaming.models import Authorization, ChargingSession, Command, OcpiRequestLog, Partner
from tests.backoffice.support.data import Story, a_staff_user
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan, an_invoice


def support_page(client: Client, driver: Driver) -> str:
    response = client.get(reverse("backoffice:driver_support", args=[driver.pk]))
    assert response.status_code == 200
    return response.content.decode()


def section(page: str, name: str) -> str:
    """The HTML of one part of the page (<section id=name>)."""
    match = re.search(rf'<section id="{name}".*?</section>', page, re.S)
    assert match, f"no section {name}"
    return match.group(0)


def test_the_page_shows_each_part_for_the_driver(staff_client: Client, story: Story) -> None:
    page = support_page(staff_client, story.ann)

    profile = section(page, "profile")
    assert "Ann Smit" in profile
    assert story.ann.user.email in profile
    assert "Pay as you go" in profile
    assert "(the default plan)" in profile
    story.ann.refresh_from_db()
    assert f"{story.ann.uninvoiced} EUR" in profile  # the balance billing keeps

    cards = section(page, "cards")
    assert story.card.contract_id in cards
    assert "EMS-0001-7" in cards
    assert 'Example CPO</a>: <span class="ok">up to date</span>' in cards
    assert "not received yet (push pending)" in cards  # the new card, issued after the last push
    assert '<span class="refused">BLOCKED</span>: This card is blocked.' in cards  # the charging rule, now

    sessions = section(page, "sessions")
    assert "S-ANN-1" in sessions
    assert reverse("admin:roaming_authorization_change", args=[story.allowed.pk]) in sessions
    assert ">ALLOWED</a>" in sessions
    assert reverse("admin:roaming_cdr_change", args=[story.cdr.pk]) in sessions
    assert f"?session={story.session.pk}" in sessions

    authorizations = section(page, "authorizations")
    assert 'class="refused">BLOCKED</td>' in authorizations  # the blocked card
    assert 'class="ok">ALLOWED</td>' in authorizations
    assert reverse("admin:roaming_chargingsession_change", args=[story.session.pk]) in authorizations

    commands = section(page, "commands")
    assert "STOP_SESSION" in commands
    assert reverse("admin:roaming_command_change", args=[story.command.pk]) in commands

    cdrs = section(page, "cdrs")
    assert "CDR-ANN-1" in cdrs
    assert '<td class="cpo-price">4.60 EUR</td>' in cdrs
    assert ">4.50 EUR</a></td>" in cdrs  # ours, by the tariff
    assert CdrPrice.objects.get(cdr=story.cdr).total_excl_vat == Decimal("4.5")
    assert f"{story.charge.amount_excl_vat:.2f} EUR (Pay as you go)" in cdrs  # what the driver pays
    assert ">INV-2026-000042</a>" in cdrs

    invoices = section(page, "invoices")
    assert "INV-2026-000042" in invoices
    assert reverse("billing:invoice_document_pdf", args=[story.invoice.pk]) in invoices

    log = section(page, "request-log")
    assert f"/ocpi/2.2.1/tokens/{story.card.uid}/authorize" in log  # the allowed authorization
    assert f"/ocpi/2.2.1/tokens/{story.new_card.uid}/authorize" in log  # the refused one
    assert "/ocpi/2.2.1/sessions/BE/BEC/S-ANN-1" in log
    assert ">/ocpi/2.2.1/cdrs<" in log  # the CDR's POST


def test_the_page_shows_nothing_of_another_driver(staff_client: Client, story: Story) -> None:
    page = support_page(staff_client, story.ann)
    for other in ("Bob Jansen", "S-BOB-1", "CDR-BOB-1", "INV-2026-000077", story.bob.tokens.get().contract_id):
        assert other not in page
    assert "/sessions/BE/BEC/S-BOB-1" not in page
    # And the other way round.
    bob_page = support_page(staff_client, story.bob)
    assert "S-BOB-1" in bob_page
    assert "S-ANN-1" not in bob_page
    assert "INV-2026-000042" not in bob_page


def test_the_reason_of_an_authorization_shows_in_words(staff_client: Client, story: Story) -> None:
    Authorization.objects.filter(token__driver=story.ann).update(reason=ChargeReason.BLOCKED)
    authorizations = section(support_page(staff_client, story.ann), "authorizations")
    assert "<td>Card blocked, lost or stolen</td>" in authorizations


def test_each_part_links_to_its_whole_filtered_list(staff_client: Client, story: Story) -> None:
    page = support_page(staff_client, story.ann)
    pk = story.ann.pk
    for url in (
        f"{reverse('admin:roaming_chargingsession_changelist')}?driver__id__exact={pk}",
        f"{reverse('admin:roaming_cdr_changelist')}?driver__id__exact={pk}",
        f"{reverse('admin:roaming_authorization_changelist')}?driver={pk}",
        f"{reverse('admin:roaming_command_changelist')}?driver={pk}",
        f"{reverse('admin:billing_invoice_changelist')}?driver__id__exact={pk}",
        f"{reverse('admin:drivers_token_changelist')}?driver__id__exact={pk}",
    ):
        assert url in page
        assert staff_client.get(url).status_code == 200, url  # the admin takes the filter (else a redirect to ?e=1)
    sessions = staff_client.get(f"{reverse('admin:roaming_chargingsession_changelist')}?driver__id__exact={pk}")
    assert "S-ANN-1" in sessions.content.decode()
    assert "S-BOB-1" not in sessions.content.decode()
    authorizations = staff_client.get(f"{reverse('admin:roaming_authorization_changelist')}?driver={pk}")
    text = authorizations.content.decode()
    assert story.allowed.reference[:11] in text
    assert story.refused.reference[:11] in text
    bob_reference = Authorization.objects.get(token__driver=story.bob).reference
    assert bob_reference[:11] not in text


# --- search ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["Ann Smit", "smit", "ANN", "driver-email", "04ab12cd", "04AB12CD", "EMS-0001-7", "contract-id", "0001-7"],
)
def test_the_search_finds_the_driver_by_each_key(staff_client: Client, story: Story, query: str) -> None:
    query = {"driver-email": story.ann.user.email, "contract-id": story.card.contract_id}.get(query, query)
    reply = staff_client.get(reverse("backoffice:driver_search"), {"q": query})
    assert reply.status_code == 302  # one match: straight to the driver's page
    assert reply["Location"] == reverse("backoffice:driver_support", args=[story.ann.pk])


def test_a_search_matching_several_drivers_lists_them(staff_client: Client, story: Story) -> None:
    a_driver("Ann Jansen")
    page = staff_client.get(reverse("backoffice:driver_search"), {"q": "ann"}).content.decode()
    results = section(page, "results")
    assert "Ann Smit" in results
    assert "Ann Jansen" in results
    assert "Bob" not in results
    nothing = staff_client.get(reverse("backoffice:driver_search"), {"q": "nobody-like-this"}).content.decode()
    assert 'id="no-results"' in nothing


def test_the_driver_admin_finds_a_driver_by_card_uid_and_links_the_support_view(
    staff_client: Client, story: Story
) -> None:
    listing = staff_client.get(reverse("admin:drivers_driver_changelist"), {"q": "04ab12cd"}).content.decode()
    assert "Ann Smit" in listing
    assert "Bob Jansen" not in listing
    support = reverse("backoffice:driver_support", args=[story.ann.pk])
    assert f'<a href="{support}">support view</a>' in listing
    change = staff_client.get(reverse("admin:drivers_driver_change", args=[story.ann.pk])).content.decode()
    assert support in change
    assert f"{reverse('admin:roaming_chargingsession_changelist')}?driver__id__exact={story.ann.pk}" in change


# --- who may see it ----------------------------------------------------------------------------------------


def test_only_staff_who_may_view_drivers_see_it(client: Client, story: Story) -> None:
    url = reverse("backoffice:driver_support", args=[story.ann.pk])
    search = reverse("backoffice:driver_search")
    for target in (url, search):
        anonymous = client.get(target)
        assert anonymous.status_code == 302
        assert reverse("admin:login") in anonymous["Location"]
    user = a_staff_user()
    client.force_login(user)
    assert reverse("admin:login") in client.get(url)["Location"]  # not staff: the admin's login
    user.is_staff = True
    user.save()
    assert client.get(url).status_code == 403  # staff, but may not view drivers
    assert client.get(search, {"q": "ann"}).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="view_driver"))
    page = client.get(url)
    assert page.status_code == 200
    assert "S-ANN-1" in page.content.decode()


# --- bounded -----------------------------------------------------------------------------------------------


def _history(driver: Driver, partner: Partner, sessions: int) -> None:
    """`sessions` sessions of the driver, each with its authorization, CDR, price, charge, command and log rows."""
    card = driver.tokens.get()
    plan = a_plan(f"Plan {driver.pk}")
    start = timezone.now() - timedelta(days=sessions + 1)
    for n in range(sessions):
        at = start + timedelta(days=n)
        authorization = Authorization.objects.create(partner=partner, token=card, allowed="ALLOWED")
        session = ChargingSession.objects.create(
            partner=partner, country_code="NL", party_id="CPO", ocpi_id=f"S{driver.pk}-{n}", status="COMPLETED",
            start_date_time=at, end_date_time=at + timedelta(hours=1), kwh=Decimal("10"), auth_method="AUTH_REQUEST",
            authorization_reference=authorization.reference, ocpi_location_id="LOC1", evse_uid="E1",
            connector_id="1", currency="EUR", token_uid=card.uid, token_type="RFID", contract_id=card.contract_id,
            token=card, driver=driver, last_updated=at,
        )  # fmt: skip
        cdr = a_cdr(partner, driver, start=at, session=session, authorization_reference=authorization.reference)
        CdrPrice.objects.filter(cdr=cdr).update(status="PRICED", currency="EUR", total_excl_vat=Decimal("8.50"))
        a_charge(cdr, plan)
        Command.objects.create(partner=partner, type="STOP_SESSION", token=card, session_id=session.ocpi_id)
        OcpiRequestLog.objects.create(
            direction="in", partner=partner, module="sessions", method="PUT",
            url=f"/ocpi/2.2.1/sessions/NL/CPO/{session.ocpi_id}", http_status=200, ocpi_status=1000,
        )  # fmt: skip
        an_invoice(driver, "10.00")


def _queries(client: Client, driver: Driver) -> int:
    with CaptureQueriesContext(connection) as queries:
        support_page(client, driver)
    return len(queries)


def test_the_page_costs_the_same_queries_for_a_long_history(
    staff_client: Client, django_assert_max_num_queries: Any
) -> None:
    partner = a_partner()
    short, long = a_driver("Short History"), a_driver("Long History")
    _history(short, partner, 2)
    _history(long, partner, 30)  # more than every list shows
    assert _queries(staff_client, short) == _queries(staff_client, long)
    with django_assert_max_num_queries(30):
        page = support_page(staff_client, long)
    assert page.count(reverse("admin:roaming_ocpirequestlog_changelist") + "?session=") == 20  # the newest 20
