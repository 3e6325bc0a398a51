"""Reconciliation against a real CPO implementation over HTTP: the simulator prices its CDRs itself and
falsifies the total of a share of them; our pricing must flag exactly those CDRs and no others."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from billing.models import CdrPrice, Dispute
from cposim import Simulator
from drivers.services import driver_create, token_issue
from roaming.models import Partner
from tests.integration.conftest import SIM_START, simulated_cpo

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = 12


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulated_cpo(start_time=SIM_START) as simulator:
        yield simulator


def test_reconciliation_flags_exactly_the_cdrs_the_cpo_priced_wrong(located_partner: Partner, sim: Simulator) -> None:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    token = token_issue(driver=driver, uid="04A1B2C3")
    cdr_token = {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": token.uid,
        "type": "RFID",
        "contract_id": token.contract_id,
    }
    sim.wrong_total_share = 0.3

    free = [
        (location_id, evse["uid"])
        for location_id in sim.location_ids()
        for evse in sim.location(location_id)["evses"]
        if evse["status"] == "AVAILABLE"
    ]
    for location_id, evse_uid in free[:SESSIONS]:
        session = sim.start_session(location_id, evse_uid, token=cdr_token)
        sim.advance(900)
        sim.advance(1500)
        sim.stop_session(session["id"])

    sent = sorted(cdr["id"] for cdr in sim.cdrs())
    wrong = sim.wrong_total_cdr_ids()
    assert len(sent) == SESSIONS
    assert 0 < len(wrong) < SESSIONS  # the seed gives both kinds

    prices = CdrPrice.objects.filter(cdr__partner=located_partner).select_related("cdr")
    assert sorted(p.cdr.ocpi_id for p in prices if p.status == "PRICED") == sent, [p.reason for p in prices]
    disputed = Dispute.objects.filter(partner=located_partner).select_related("cdr")
    assert sorted(d.cdr.ocpi_id for d in disputed) == wrong
    for dispute in disputed:
        correct = (sim.cdr_info(dispute.cdr.ocpi_id) or {})["correct_total"]
        assert [d["dimension"] for d in dispute.differences] == ["total", "total incl. VAT"]  # nothing else
        falsified_by = dispute.cdr.total_cost_excl_vat - Decimal(str(correct["excl_vat"]))
        # The simulator keeps 4 decimals where we round to the cent: the stake is the falsification, give or take.
        assert abs(dispute.amount_at_stake - falsified_by) < Decimal("0.01")
