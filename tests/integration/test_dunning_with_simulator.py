"""Dunning against the CPO simulator over HTTP: a driver suspended for an unpaid invoice has their token pushed
to the CPO as invalid, and paying in full pushes it valid again."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail

from billing.collection import billing_today, payment_record
from billing.dunning import dunning_run
from cposim import Simulator
from drivers.models import Driver
from roaming.models import Partner
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes
from tests.billing.factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner(emsp: str, sim: Simulator) -> Partner:
    """We registered with the simulator: it takes our tokens."""
    return register_with(versions_url=sim.versions_url, token_a=sim.token_a)


def test_suspension_for_an_unpaid_invoice_makes_the_token_invalid_at_the_cpo_until_paid(
    partner: Partner, sim: Simulator
) -> None:
    driver = a_driver("Ann Smit")
    card = driver.tokens.get()
    push_token_changes(partner=partner)
    assert sim.token(card.uid)["valid"] is True  # type: ignore[index]

    due = billing_today() - timedelta(days=30)
    invoice = an_invoice(driver, "121.00", due_date=due, issue_date=due - timedelta(days=14))
    for late in (7, 21, 28):  # reminder 1, reminder 2, suspension
        dunning_run(today=due + timedelta(days=late))
    driver.refresh_from_db()
    assert driver.standing == Driver.Standing.SUSPENDED
    assert len(mail.outbox) == 3

    assert push_token_changes(partner=partner).sent == 1
    assert sim.token(card.uid)["valid"] is False  # type: ignore[index]

    payment_record(invoice=invoice, amount=Decimal("121.00"), received_on=billing_today())
    driver.refresh_from_db()
    assert driver.standing == Driver.Standing.GOOD

    assert push_token_changes(partner=partner).sent == 1
    assert sim.token(card.uid)["valid"] is True  # type: ignore[index]
