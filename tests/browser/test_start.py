"""Signing in to the back office and its start page, in Chromium."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots, log_in

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


def test_the_start_page(staff: Page, shots: Screenshots) -> None:
    staff.goto(START_PAGE)
    expect(staff).to_have_title(re.compile(r"\| EMSP back office$"))
    expect(staff.locator("#site-name")).to_have_text("EMSP back office")
    expect(staff.locator("#content h1")).to_be_visible()
    # The dashboard (issue 17, item 1) adds its sections here: partner health, today's figures, the charts.
    shots("start page")
