"""Finance settles a dispute: the CPO billed a charge above its own tariff, reconciliation opened a dispute, staff
compare both figures and record a decision."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from billing.models import Dispute
from cposim import Simulator
from drivers.models import Driver
from roaming.models import Partner
from tests.browser.conftest import Screenshots, charged, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_settle_a_dispute(
    staff: Page, admin_user: User, cpo: Partner, sim: Simulator, driver: Driver, shots: Screenshots
) -> None:
    sim.wrong_total_share = 1.0  # every CDR the CPO sends now carries a total above its tariff
    cdr = charged(sim, driver.tokens.get())
    dispute = Dispute.objects.get(cdr__ocpi_id=cdr["id"])
    at_stake = f"{dispute.amount_at_stake.normalize():f} {dispute.currency}"

    staff.goto("/admin/billing/dispute/")
    expect(staff.locator("#open-by-partner")).to_contain_text(cpo.name)
    row = staff.locator("#result_list tbody tr", has_text=cdr["id"])
    expect(row).to_contain_text("Open")
    shots("open disputes")

    row.get_by_role("link", name=at_stake).click()
    expect(staff.locator("table.side-by-side")).to_contain_text("total")
    expect(staff.locator("table.breakdown")).to_be_visible()
    shots("both figures side by side")

    decision = staff.locator("#decision")
    decision.get_by_label("Outcome").select_option(label="Accept our price")
    decision.get_by_label("Note").fill("The CPO's total is above its own tariff; we pay our price.")
    shots("decision filled in")
    decision.get_by_role("button", name="Record the decision").click()

    expect(messages(staff)).to_contain_text(f"{dispute.cdr}: our price accepted.")
    expect(staff.locator("input[name=_save]")).to_have_count(0)  # no Save: only decisions change a dispute
    expect(staff.locator("#decision h2")).to_contain_text("Decide again")
    expect(staff.locator(".form-row.field-status")).to_contain_text("our price accepted")
    expect(staff.locator(".form-row.field-decided_by")).to_contain_text("admin")
    shots("decision recorded")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.decided_by) == (Dispute.Status.OURS_ACCEPTED, admin_user)

    staff.get_by_role("link", name="Disputes").first.click()
    expect(staff.locator("#open-by-partner")).to_contain_text("No open disputes.")
    expect(staff.locator("#result_list tbody tr", has_text=cdr["id"])).to_contain_text("our price accepted")
    shots("no open disputes left")
