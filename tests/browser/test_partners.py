"""Onboarding a CPO from the back office: register with the simulator using its token A, sync, see its
locations arrive."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cposim import Simulator
from roaming.models import Location, Partner, SyncRun
from tests.browser.conftest import Screenshots, messages, run_action

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_with_a_cpo_and_sync_its_locations(staff: Page, sim: Simulator, shots: Screenshots) -> None:
    staff.goto("/admin/roaming/partner/")
    staff.get_by_role("link", name="Register with a partner").click()
    staff.get_by_label("Partner versions URL").fill(sim.versions_url)
    staff.get_by_label("Token A from the partner").fill(sim.token_a)
    staff.get_by_label("Name").fill("Simulated CPO")
    shots("register form")
    staff.get_by_role("button", name="Register").click()

    expect(messages(staff)).to_contain_text("Registered with Simulated CPO (OCPI 2.2.1).")
    expect(staff.locator(".field-status")).to_contain_text("Registered")
    expect(staff.locator("#roles-group")).to_contain_text("SIM")
    shots("partner registered")
    assert sim.is_registered  # the handshake happened over HTTP: the CPO holds our credentials
    partner = Partner.objects.get()
    assert not Location.objects.exists()  # nothing pulled before staff ask (OCPI_SYNC_ON_REGISTER is off here)

    staff.get_by_role("link", name="Partners", exact=True).first.click()
    run_action(staff, "Sync now (changes since the last sync)", "Simulated CPO")
    expect(messages(staff)).to_contain_text("Simulated CPO: incremental sync started")
    shots("sync started")

    staff.get_by_role("link", name="Sync runs").first.click()
    locations_run = staff.locator("#result_list tbody tr", has_text="Locations")
    expect(locations_run).to_contain_text("Succeeded")
    expect(locations_run).to_contain_text(f"{len(sim.location_ids())}/{len(sim.location_ids())}")
    shots("sync runs")
    assert set(SyncRun.objects.filter(partner=partner).values_list("status", flat=True)) == {"succeeded"}

    staff.goto("/admin/roaming/location/")
    expect(staff.locator("#result_list tbody tr")).to_have_count(len(sim.location_ids()))
    first = sim.location(sim.location_ids()[0])
    expect(staff.locator("#result_list")).to_contain_text(first["name"])
    shots("locations arrived")
