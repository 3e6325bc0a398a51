"""Signing in to the back office and its start page, in Chromium."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from playwright.sync_api import Page, expect

from backoffice.dashboard import ANOMALY_CACHE_KEY
from cposim import Simulator
from drivers.models import Driver
from roaming.models import Partner
from tests.browser.conftest import Screenshots, charged, charging, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Where staff land after signing in.
START_PAGE = "/admin/"


def test_staff_sign_in_through_the_login_form(page: Page, admin_user: User, shots: Screenshots) -> None:
    page.goto(START_PAGE)
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))  # nobody gets in unsigned

    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")
    shots("wrong password refused")

    log_in(page, admin_user, shots=shots)
    expect(page).to_have_url(re.compile(r"/admin/$"))
    shots("signed in")


def test_the_start_page(staff: Page, cpo: Partner, sim: Simulator, driver: Driver, shots: Screenshots) -> None:
    """Operations open the back office: which partner is failing, today's figures, the anomalies, 30 days of
    charts; each figure one click from the rows it counts."""
    charged(sim, driver.tokens.get())  # a whole charge: a session and its CDR
    # And one going on since the simulator's morning of 3 March 2025: "active for more than 24 hours".
    session_id = charging(sim, driver.tokens.get())
    cache.delete(ANOMALY_CACHE_KEY)  # counted when staff signed in, before these sessions: count them now

    staff.goto(START_PAGE)
    expect(staff).to_have_title(re.compile(r"\| EMSP back office$"))
    expect(staff.locator("#site-name")).to_have_text("EMSP back office")
    expect(staff.locator("#start-partners")).to_contain_text(cpo.name)
    expect(staff.locator("#start-today")).to_contain_text("Sessions started")
    charts = staff.locator("#start-charts figcaption")
    expect(charts.nth(0)).to_contain_text("Sessions per day")
    expect(charts.nth(1)).to_contain_text("Energy per day")
    stuck = staff.locator("#start-anomalies li", has_text="active for more than 24 hours")
    expect(stuck).to_contain_text("1")
    shots("start page")

    stuck.get_by_role("link").click()  # the sessions it counts
    expect(staff.locator("#result_list tbody tr")).to_have_count(1)
    expect(staff.locator("#result_list")).to_contain_text(session_id)
    shots("the session active for more than 24 hours")
