"""Support blocks a driver's card from the Token admin; the CPO then refuses it at the charger."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cposim import Simulator
from drivers.models import Driver, Token
from roaming.models import Authorization, Partner
from tests.browser.conftest import Screenshots, free_evse, messages, run_action

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_block_a_card(staff: Page, cpo: Partner, sim: Simulator, driver: Driver, shots: Screenshots) -> None:
    card = driver.tokens.get()
    staff.goto("/admin/drivers/token/")
    staff.locator("#searchbar").fill(card.uid)
    staff.locator("#searchbar").press("Enter")
    row = staff.locator("#result_list tbody tr", has_text=card.uid)
    expect(row).to_contain_text("Active")
    shots("the card found")

    run_action(staff, "Block (refuse charging everywhere)", card.uid)
    expect(messages(staff)).to_contain_text(f"{card}: blocked; every connected CPO will be told.")
    expect(row).to_contain_text("Blocked")
    shots("the card blocked")
    card.refresh_from_db()
    assert card.status == Token.Status.BLOCKED

    # At a charger of the CPO the card is refused: our real-time answer, and the CPO's copy of the card.
    refused = sim.swipe(card.uid, *free_evse(sim))
    assert (refused.allowed, refused.session_id) == ("BLOCKED", None)
    assert (sim.token(card.uid) or {}).get("valid") is False
    assert Authorization.objects.get().allowed == "BLOCKED"
    staff.goto("/admin/roaming/authorization/")
    expect(staff.locator("#result_list tbody tr", has_text=card.uid)).to_contain_text("Blocked")
    shots("the refusal in the authorizations")
