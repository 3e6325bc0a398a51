"""Integration fixtures: our platform served over real HTTP (live_server) and the CPO simulator, a
separate implementation of OCPI, on loopback. Each calls the other for real."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from cposim import SimConfig, Simulator
from roaming.models import Partner
from roaming.services.partners import partner_invite
from roaming.sync import sync_partner


@pytest.fixture
def emsp(live_server: Any, settings: DjangoSettings) -> str:
    """Our base URL; OCPI_BASE_URL follows it, so the URLs we hand out are the live server's."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return str(live_server.url)


#: A start for the simulated clock: with it, every timestamp and energy figure is the same on every run.
SIM_START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def simulated_cpo(**config: Any) -> Simulator:
    """The integration tests' CPO: seed 7, 12 locations under NL/SIM; `config` as for SimConfig."""
    return Simulator(SimConfig(seed=7, locations=12, country_code="NL", party_id="SIM", **config))


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulated_cpo() as simulator:
        yield simulator


@pytest.fixture
def sim_registered_with_us(emsp: str, sim: Simulator) -> Partner:
    """The simulator registered with us, the way a CPO we invited does it."""
    partner, token_a = partner_invite(name="Simulated CPO")
    sim.register_with(f"{emsp}/ocpi/versions", token_a)
    partner.refresh_from_db()
    return partner


@pytest.fixture
def located_partner(sim_registered_with_us: Partner) -> Partner:
    """The simulator registered with us, with its locations pulled (so sessions link to them)."""
    assert sync_partner(partner=sim_registered_with_us, module="locations", full=True).status == "succeeded"
    return sim_registered_with_us
