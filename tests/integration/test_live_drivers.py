"""`make run`'s picture: the simulator's live drivers against our platform. Cards charge in one place at a time,
some swipes are refused and every refusal is kept with its reason, and nothing is flagged that should not be."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from cposim import Simulator
from drivers.services import token_issue, token_report_lost
from roaming.models import Authorization, ChargingSession, Partner
from roaming.selectors_anomalies import anomalies_count
from roaming.services.partners import partner_invite
from roaming.services.tokens import push_token_changes
from roaming.sync import sync_partner
from tests.integration.conftest import SIM_START, simulated_cpo
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    # More refusals than the demo's defaults, so a short run has some of each kind.
    with simulated_cpo(start_time=SIM_START, stranger_card_share=0.2, invalid_card_tries=0.5) as simulator:
        yield simulator


def test_live_drivers_charge_one_place_at_a_time_and_refusals_say_why(emsp: str, live_sim: Simulator) -> None:
    partner, token_a = partner_invite(name="Simulated CPO")
    live_sim.register_with(f"{emsp}/ocpi/versions", token_a)
    partner = Partner.objects.get(pk=partner.pk)
    assert sync_partner(partner=partner, module="locations", full=True).status == "succeeded"
    driver = make_driver()
    cards = [token_issue(driver=driver, uid=f"DEMO{n:04d}") for n in range(1, 5)]
    token_report_lost(token=cards[3])
    assert push_token_changes(partner=partner).sent == 4

    for _ in range(120):  # 10 simulated minutes
        live_sim.live_step(5.0, status_rate=0.0, session_every=5.0, session_seconds=(60, 180), patch_every=60.0)
        live_sim.flush()
        active = ChargingSession.objects.filter(status="ACTIVE")
        assert max(Counter(active.values_list("token_id", flat=True)).values(), default=0) <= 1

    reasons = Counter(Authorization.objects.values_list("reason", flat=True))
    assert reasons["allowed"] >= 3
    assert reasons["blocked"] >= 1
    assert reasons["unknown_token"] >= 1
    assert set(reasons) == {"allowed", "blocked", "unknown_token"}
    assert set(Authorization.objects.filter(reason="blocked").values_list("token", flat=True)) == {cards[3].pk}
    unknown = Authorization.objects.filter(reason="unknown_token")
    assert all(a.token_id is None and a.token_uid and a.partner_id == partner.pk for a in unknown)
    # Only allowed swipes start sessions, each linked to our driver.
    sessions = ChargingSession.objects.all()
    assert sessions.count() == reasons["allowed"]
    assert set(sessions.values_list("driver", flat=True)) == {driver.pk}
    assert {s.authorization_reference for s in sessions} == set(
        Authorization.objects.filter(reason="allowed").values_list("reference", flat=True)
    )
    flagged = anomalies_count()
    assert flagged["card_in_several_sessions"] == 0
    assert flagged["energy_beyond_power"] == 0
    assert flagged["without_session"] == 0
