"""Every related object one click away in the admin: driver -> cards -> sessions -> CDRs -> invoice lines, partner
-> locations -> EVSEs -> status history, session <-> CDR <-> authorization <-> request log; JSON folded; a tariff
as a table with its restrictions in words; the session and CDR lists filtered by date, driver, partner and status."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from roaming.models import Evse, EvseStatusChange, Location, OcpiRequestLog, Tariff
from tests.backoffice.support.data import Story
from tests.billing.conftest import location_body
from tests.roaming.conftest import OcpiTestClient

FUTURE = "2099-01-01 00:00:00+00:00"


def html(client: Client, name: str, *args: Any, query: dict[str, Any] | None = None) -> str:
    response = client.get(reverse(f"admin:{name}", args=args), query or {})
    assert response.status_code == 200, (name, response.status_code, getattr(response, "url", ""))
    return response.content.decode()


def link(name: str, *args: Any) -> str:
    return f'href="{reverse(f"admin:{name}", args=args)}"'


def test_driver_to_cards_to_sessions_to_cdrs_to_invoice_lines(staff_client: Client, story: Story) -> None:
    driver = html(staff_client, "drivers_driver_change", story.ann.pk)
    assert link("drivers_token_change", story.card.pk) in driver  # the cards inline

    card = html(staff_client, "drivers_token_change", story.card.pk)
    sessions_of_card = f"{reverse('admin:roaming_chargingsession_changelist')}?token__id__exact={story.card.pk}"
    assert sessions_of_card in card
    assert "Example CPO</a>: up to date" in card  # the card at each CPO
    assert "S-ANN-1" in html(
        staff_client, "roaming_chargingsession_changelist", query={"token__id__exact": story.card.pk}
    )

    session = html(staff_client, "roaming_chargingsession_change", story.session.pk)
    assert link("roaming_cdr_change", story.cdr.pk) in session

    cdr = html(staff_client, "roaming_cdr_change", story.cdr.pk)
    assert link("billing_invoice_change", story.invoice.pk) in cdr
    assert "line 1: Charging session S-ANN-1" in cdr

    invoice = html(staff_client, "billing_invoice_change", story.invoice.pk)
    assert link("roaming_cdr_change", story.cdr.pk) in invoice  # the line's CDR ...
    assert link("roaming_chargingsession_change", story.session.pk) in invoice  # ... and its session


def test_session_cdr_authorization_and_request_log_link_each_other(staff_client: Client, story: Story) -> None:
    session = html(staff_client, "roaming_chargingsession_change", story.session.pk)
    assert link("roaming_authorization_change", story.allowed.pk) in session
    assert link("drivers_driver_change", story.ann.pk) in session
    assert f"?session={story.session.pk}" in session

    cdr = html(staff_client, "roaming_cdr_change", story.cdr.pk)
    assert link("roaming_chargingsession_change", story.session.pk) in cdr
    assert link("roaming_authorization_change", story.allowed.pk) in cdr
    assert f"?cdr={story.cdr.pk}" in cdr
    assert "CPO (EUR)" in cdr
    assert "<tr><th>total</th><td>4.6</td><td>4.5</td><td>0.1</td></tr>" in cdr

    authorization = html(staff_client, "roaming_authorization_change", story.allowed.pk)
    assert link("roaming_chargingsession_change", story.session.pk) in authorization
    assert link("roaming_cdr_change", story.cdr.pk) in authorization
    assert f"?authorization={story.allowed.pk}" in authorization
    listing = html(staff_client, "roaming_authorization_changelist")
    assert link("roaming_chargingsession_change", story.session.pk) in listing  # the session column

    log = html(staff_client, "roaming_ocpirequestlog_changelist", query={"session": story.session.pk})
    assert "/ocpi/2.2.1/sessions/BE/BEC/S-ANN-1" in log
    assert "S-BOB-1" not in log
    assert "/authorize" not in log
    log = html(staff_client, "roaming_ocpirequestlog_changelist", query={"authorization": story.allowed.pk})
    assert f"/tokens/{story.card.uid}/authorize" in log  # and the session and CDR that echo its reference
    assert "S-ANN-1" in log
    assert "S-BOB-1" not in log
    assert f"/tokens/{story.new_card.uid}/" not in log
    log = html(staff_client, "roaming_ocpirequestlog_changelist", query={"cdr": story.cdr.pk})
    assert ">/ocpi/2.2.1/cdrs<" in log

    entry = OcpiRequestLog.objects.get(url="/ocpi/2.2.1/sessions/BE/BEC/S-ANN-1")
    page = html(staff_client, "roaming_ocpirequestlog_change", entry.pk)
    assert link("roaming_chargingsession_change", story.session.pk) in page  # what the exchange was about
    assert '<details class="json" open><summary>' in page
    assert "&quot;S-ANN-1&quot;" in page
    post = OcpiRequestLog.objects.get(url=f"/ocpi/2.2.1/tokens/{story.card.uid}/authorize?type=RFID")
    assert link("roaming_authorization_change", story.allowed.pk) in html(
        staff_client, "roaming_ocpirequestlog_change", post.pk
    )


def test_json_is_pretty_and_folded(staff_client: Client, story: Story) -> None:
    session = html(staff_client, "roaming_chargingsession_change", story.session.pk)
    assert '<details class="json"><summary>3 charging periods</summary><pre' in session
    assert "&quot;start_date_time&quot;: " in session  # indented, one field a line
    cdr = html(staff_client, "roaming_cdr_change", story.cdr.pk)
    assert "<summary>1 charging periods</summary>" in cdr
    assert "<summary>the whole CDR as the CPO sent it</summary>" in cdr


@pytest.fixture
def location(ocpi: OcpiTestClient, story: Story) -> Location:
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", location_body()).status_code == 1000
    evse = Evse.objects.filter(location__ocpi_id="LOC1").order_by("pk").first()
    assert evse is not None
    reply = ocpi.patch(
        f"/ocpi/2.2.1/locations/BE/BEC/LOC1/{evse.uid}", {"status": "CHARGING", "last_updated": "2026-11-02T00:00:00Z"}
    )
    assert reply.status_code == 1000
    return Location.objects.get(ocpi_id="LOC1")


def test_partner_to_locations_to_evses_to_status_history(staff_client: Client, location: Location) -> None:
    partner = html(staff_client, "roaming_partner_change", location.partner_id)
    locations = f"{reverse('admin:roaming_location_changelist')}?partner__id__exact={location.partner_id}"
    assert locations in partner
    assert "LOC1" in staff_client.get(locations).content.decode()

    page = html(staff_client, "roaming_location_change", location.pk)
    evse = location.evses.order_by("pk").first()
    assert evse is not None
    assert link("roaming_evse_change", evse.pk) in page  # the EVSEs inline
    assert f"{reverse('admin:roaming_evse_changelist')}?location__id__exact={location.pk}" in page
    assert '<details class="json"><summary>' in page
    assert "Opening times" in page

    evse_page = html(staff_client, "roaming_evse_change", evse.pk)
    assert "<td>CHARGING</td>" in evse_page  # the latest status changes
    history = f"{reverse('admin:roaming_evsestatuschange_changelist')}?evse__id__exact={evse.pk}"
    assert history in evse_page
    listing = staff_client.get(history).content.decode()
    assert listing.count("CHARGING") >= EvseStatusChange.objects.filter(evse=evse, status="CHARGING").count() > 0


def test_a_tariff_page_shows_its_prices_with_the_restrictions_in_words(
    staff_client: Client,
    ocpi: OcpiTestClient,
) -> None:
    body = {
        "country_code": "BE",
        "party_id": "BEC",
        "id": "DAY",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21.0, "step_size": 1}],
                "restrictions": {
                    "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
                    "start_time": "08:00",
                    "end_time": "18:00",
                    "min_power": 11,
                    "min_duration": 7200,
                },
            },
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1000},
                    {"type": "PARKING_TIME", "price": 2.00, "step_size": 900},
                ]
            },
        ],
        "max_price": {"excl_vat": 50.0},
        "last_updated": "2026-11-01T00:00:00Z",
    }
    assert ocpi.put("/ocpi/2.2.1/tariffs/BE/BEC/DAY", body).status_code == 1000
    page = html(staff_client, "roaming_tariff_change", Tariff.objects.get(ocpi_id="DAY").pk)
    assert (
        "<tr><td>1</td><td>Mon-Fri 08:00-18:00, from 11 kW, after 2 h</td><td>ENERGY</td>"
        "<td>0.35 EUR per kWh</td><td>21 %</td><td>by the Wh</td></tr>"
    ) in page
    assert (
        "<tr><td>2</td><td>always</td><td>ENERGY</td><td>0.25 EUR per kWh</td><td>21 %</td><td>by the kWh</td>" in page
    )
    assert (
        "<tr><td></td><td></td><td>PARKING_TIME</td><td>2 EUR per hour parking</td><td>-</td><td>by 15 min</td>" in page
    )
    assert "At most 50 EUR a session" in page
    elements = html(staff_client, "roaming_tariffelement_changelist")
    assert "Mon-Fri 08:00-18:00, from 11 kW, after 2 h" in elements


def test_session_and_cdr_lists_filter_by_date_driver_partner_and_status(staff_client: Client, story: Story) -> None:
    mine = {"driver__id__exact": story.ann.pk}
    sessions = html(staff_client, "roaming_chargingsession_changelist", query=mine)
    assert "S-ANN-1" in sessions
    assert "S-BOB-1" not in sessions
    assert f'href="?driver__id__exact={story.ann.pk}"' in sessions  # each row narrows the list to its driver
    started = story.session.start_date_time
    day = {"start_date_time__gte": f"{started:%Y-%m-%d} 00:00:00+00:00", "start_date_time__lt": FUTURE}
    assert "S-ANN-1" in html(staff_client, "roaming_chargingsession_changelist", query=day)
    assert "S-ANN-1" not in html(
        staff_client, "roaming_chargingsession_changelist", query={"start_date_time__gte": FUTURE}
    )
    assert "S-ANN-1" in html(
        staff_client,
        "roaming_chargingsession_changelist",
        query={"status__exact": "COMPLETED", "partner__id__exact": story.partner.pk},
    )
    assert "S-ANN-1" not in html(staff_client, "roaming_chargingsession_changelist", query={"status__exact": "ACTIVE"})

    cdrs = html(staff_client, "roaming_cdr_changelist", query=mine)
    assert "CDR-ANN-1" in cdrs
    assert "CDR-BOB-1" not in cdrs
    assert "4.60 EUR" in cdrs
    assert "4.50 EUR" in cdrs
    assert "CDR-ANN-1" in html(staff_client, "roaming_cdr_changelist", query={"price_status": "PRICED", **mine})
    assert "CDR-ANN-1" not in html(staff_client, "roaming_cdr_changelist", query={"price_status": "UNPRICED"})
    assert "CDR-ANN-1" not in html(staff_client, "roaming_cdr_changelist", query={"start_date_time__gte": FUTURE})


def test_list_cells_stay_on_one_line_with_the_whole_text_on_hover(staff_client: Client, story: Story) -> None:
    sessions = html(staff_client, "roaming_chargingsession_changelist")
    assert f'<span style="white-space:nowrap" title="{story.session}">S-ANN-1</span>' in sessions
    log = html(staff_client, "roaming_ocpirequestlog_changelist")
    assert 'title="/ocpi/2.2.1/sessions/BE/BEC/S-ANN-1"' in log
