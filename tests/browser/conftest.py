"""The back office in a real browser: Debian's headless Chromium driven by Playwright, against the platform on
a live server (and, where a flow needs a partner, the CPO simulator on loopback).

No browser is downloaded: Playwright launches the `chromium` binary found on the PATH (`.ci/run` installs it
with apt). Without one the tests skip, saying so. Every test saves what staff would have seen, step by step,
under test-artifacts/browser/<test name>/NN-step.png (git-ignored), and a last screenshot when it fails.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Locator, Page, Playwright, ViewportSize, expect, sync_playwright

from cposim import Simulator
from drivers.models import Driver, Token
from tests.billing.factories import a_driver
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts" / "browser"
VIEWPORT: ViewportSize = {"width": 1600, "height": 1000}
#: How long expect() and actions wait for the page (ms). Pages answer in well under a second; a sync or an
#: invoice run happens inside the request that starts it, so this is head room for a slow machine.
TIMEOUT_MS = 15_000
# Chromium on a machine without a network: no calls home at start (they are refused, and cost time).
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def chromium_binary() -> str | None:
    """Debian's chromium (apt-get install chromium), or None."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    """Playwright for the tests of this folder, stopped after them.

    Its sync API keeps an event loop running in this thread, so Django takes every ORM call here (the test's,
    its fixtures') for one from async code and refuses it: allowed while the browser tests run, since they are
    synchronous throughout (the live server's threads run no loop, so nothing changes for them).
    """
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as driver:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = chromium_binary()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs the browser tests, but there is no chromium binary (.ci/run installs it with apt)")
        pytest.skip("no chromium binary on this machine (apt-get install chromium; .ci/run installs it)")
    expect.set_options(timeout=TIMEOUT_MS)
    launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Keep each phase's report on the test, so the page fixture knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


class Screenshots:
    """Numbered screenshots of one test: `shots("partner registered")` writes NN-partner-registered.png of the
    test's page (or of `page`, another tab)."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder, self.taken = page, folder, 0

    def __call__(self, step: str, page: Page | None = None) -> Path:
        self.taken += 1
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.folder / f"{self.taken:02d}-{name}.png"
        (page or self.page).screenshot(path=path, full_page=True)
        return path


@pytest.fixture
def page(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, 1600x1000."""
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    yield tab
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        folder = ARTIFACTS / _folder_name(request.node.name)
        folder.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=folder / "failed.png", full_page=True)
    context.close()


def _folder_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")


@pytest.fixture
def shots(page: Page, request: pytest.FixtureRequest) -> Screenshots:
    """This test's screenshots, in a folder emptied first (no stale steps of an earlier run)."""
    folder = ARTIFACTS / _folder_name(request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(page, folder)


def log_in(page: Page, user: User, password: str = "password", shots: Screenshots | None = None) -> None:
    """Sign in through the admin's login form, as staff do; ends on the page the admin lands on."""
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    if shots:
        shots("login form")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#user-tools")).to_contain_text(user.get_username())


@pytest.fixture
def staff(page: Page, admin_user: User) -> Page:
    """The page, signed in as a superuser (pytest-django's `admin_user`)."""
    log_in(page, admin_user)
    return page


def run_action(page: Page, action: str, *rows: str) -> None:
    """On an admin change list: tick the rows whose text contains each of `rows`, pick the action, press Go."""
    for text in rows:
        page.locator("#result_list tbody tr", has_text=text).locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label=action)
    page.get_by_role("button", name="Go").click()


def messages(page: Page) -> Locator:
    """The admin's message list (success and error messages after an action)."""
    return page.locator("ul.messagelist")


@pytest.fixture
def driver(db: None) -> Driver:
    """Ann, a driver with an active RFID card (tests/billing/factories)."""
    return a_driver("Ann Smit")


def at_cpo(token: Token) -> dict[str, str]:
    """The card as a CPO puts it in its sessions and CDRs."""
    return {"country_code": "NL", "party_id": "EMS", "uid": token.uid, "type": "RFID", "contract_id": token.contract_id}


def free_evse(sim: Simulator) -> tuple[str, str]:
    """A location and EVSE of the simulator where a car can plug in now."""
    for location_id in sim.location_ids():
        for evse in sim.location(location_id)["evses"]:
            if evse["status"] == "AVAILABLE":
                return location_id, evse["uid"]
    raise AssertionError("the simulated network has no free EVSE")


def charging(sim: Simulator, token: Token, minutes: int = 30) -> str:
    """The card charges at the simulator for `minutes` (whitelisted, no authorization asked); the session goes
    on. Returns its OCPI id."""
    session = sim.start_session(*free_evse(sim), token=at_cpo(token))
    sim.advance(minutes * 60)
    return str(session["id"])


def charged(sim: Simulator, token: Token, minutes: int = 30) -> dict[str, Any]:
    """A whole charge at the simulator: the session, then the CDR it posts to us (returned)."""
    return sim.stop_session(charging(sim, token, minutes))
