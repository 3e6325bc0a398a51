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


#: The OCPI versions the simulator speaks in the tests that run over each version we serve (the charging story,
#: the handshake): a module takes them with `sim = sim_over_versions()`.
SIM_VERSIONS = ["2.3.0", "2.2.1", "2.1.1"]


def sim_over_versions() -> Any:
    """A `sim` fixture over SIM_VERSIONS, for a test module to use in place of the 2.2.1 one above (fixtures of
    this conftest that take `sim`, such as `sim_registered_with_us`, then get it too)."""

    @pytest.fixture(params=SIM_VERSIONS, ids=lambda version: f"ocpi-{version}")
    def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
        with simulated_cpo(ocpi_version=request.param) as simulator:
            yield simulator

    return sim


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
