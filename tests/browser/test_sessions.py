"""Support stops a driver's session from the back office (the driver is on the phone: the car will not unlock)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cposim import Simulator
from drivers.models import Driver
from roaming.models import Cdr, ChargingSession, Partner
from tests.browser.conftest import Screenshots, charging

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_stop_a_session(staff: Page, cpo: Partner, sim: Simulator, driver: Driver, shots: Screenshots) -> None:
    session_id = charging(sim, driver.tokens.get())
    session = ChargingSession.objects.get(ocpi_id=session_id)
    assert session.status == "ACTIVE"

    staff.goto("/admin/roaming/chargingsession/?live=yes")
    staff.get_by_role("link", name=session_id).click()
    expect(staff.locator(".form-row.field-status")).to_contain_text("Active")
    shots("the live session")

    staff.get_by_role("button", name="Stop this session").click()
    expect(staff.locator("body")).to_contain_text("STOP_SESSION")  # the command's page, following its result
    shots("stop sent")

    sim.flush()  # the CPO's CommandResult, its last session update and the CDR reach us
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert Cdr.objects.filter(session=session).exists()
    staff.goto(f"/admin/roaming/chargingsession/{session.pk}/change/")
    expect(staff.locator(".form-row.field-status")).to_contain_text("Completed")
    shots("the session completed")
