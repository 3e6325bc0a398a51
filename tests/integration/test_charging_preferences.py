"""Charging preferences over HTTP: a driver's wishes for a running session in the CPO simulator, sent to its
sessions Sender, with each of its answers kept; an EVSE that takes none is refused before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest

from cposim import Simulator
from roaming.models import ChargingSession, Evse, Partner
from roaming.selectors import preferences_in_force
from roaming.services.charging_preferences import PreferencesRefused, session_preferences_send
from tests.integration.conftest import SIM_START, simulated_cpo

pytestmark = pytest.mark.django_db(transaction=True)

CAPABLE = "CHARGING_PREFERENCES_CAPABLE"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulated_cpo(start_time=SIM_START) as simulator:
        yield simulator


def _start(sim: Simulator, *, capable: bool) -> ChargingSession:
    """Start a charge in the simulator at a free EVSE that takes preferences (AC) or not (DC), as we hold it."""
    evse = (
        Evse.objects.filter(status="AVAILABLE", removed_at__isnull=True)
        .select_related("location")
        .order_by("location__ocpi_id", "uid")
    )
    chosen = next(e for e in evse if (CAPABLE in e.capabilities) == capable)
    started = sim.start_session(chosen.location.ocpi_id, chosen.uid)
    return ChargingSession.objects.select_related("partner").get(ocpi_id=started["id"])


def test_the_cpo_answers_each_wish_and_charges_by_the_one_it_accepted(located_partner: Partner, sim: Simulator) -> None:
    session = _start(sim, capable=True)
    sim.advance(600)

    # CHEAP needs a departure time at this CPO; GREEN it cannot do; 500 kWh will not flow in 4 hours.
    departure = SIM_START + timedelta(hours=4)
    answers = [
        session_preferences_send(session, profile_type="CHEAP").response,
        session_preferences_send(session, profile_type="GREEN", departure_time=departure).response,
        session_preferences_send(
            session, profile_type="CHEAP", departure_time=departure, energy_need=Decimal("500")
        ).response,
    ]
    assert answers == ["DEPARTURE_REQUIRED", "PROFILE_TYPE_NOT_SUPPORTED", "NOT_POSSIBLE"]
    assert preferences_in_force(session) is None
    assert sim.charging_preferences(session.ocpi_id) is None

    accepted = session_preferences_send(
        session, profile_type="CHEAP", departure_time=departure, energy_need=Decimal("15.5")
    )

    assert (accepted.state, accepted.response) == ("ANSWERED", "ACCEPTED")
    assert preferences_in_force(session) == accepted
    assert sim.charging_preferences(session.ocpi_id) == {
        "profile_type": "CHEAP",
        "departure_time": "2026-03-02T13:00:00Z",
        "energy_need": Decimal("15.5"),
    }
    assert session.preference_requests.count() == 4

    sim.stop_session(session.ocpi_id)
    session.refresh_from_db()
    with pytest.raises(PreferencesRefused, match="is COMPLETED"):
        session_preferences_send(session, profile_type="FAST")


def test_an_evse_without_the_capability_is_refused_here_and_at_the_cpo(
    located_partner: Partner, sim: Simulator
) -> None:
    session = _start(sim, capable=False)

    with pytest.raises(PreferencesRefused, match="does not take charging preferences"):
        session_preferences_send(session, profile_type="FAST")
    assert not session.preference_requests.exists()

    # Our copy of the EVSE may be out of date: the CPO's own refusal (HTTP 404, OCPI 2001) is kept too.
    Evse.objects.filter(location=session.location, uid=session.evse_uid).update(capabilities=[CAPABLE])
    sent = session_preferences_send(session, profile_type="FAST")

    assert (sent.state, sent.response) == ("NOT_SUPPORTED", "")
    assert "does not take charging preferences" in sent.error
    assert sim.charging_preferences(session.ocpi_id) is None
