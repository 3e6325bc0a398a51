"""Integration fixtures: our platform served over real HTTP (live_server) and the CPO simulator, a
separate implementation of OCPI, on loopback. Each calls the other for real."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from cposim import SimConfig, Simulator
from roaming.models import Partner
from roaming.services.partners import partner_invite


@pytest.fixture
def emsp(live_server: Any, settings: DjangoSettings) -> str:
    """Our base URL; OCPI_BASE_URL follows it, so the URLs we hand out are the live server's."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return str(live_server.url)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimConfig(seed=7, locations=12, country_code="NL", party_id="SIM")) as simulator:
        yield simulator


@pytest.fixture
def sim_registered_with_us(emsp: str, sim: Simulator) -> Partner:
    """The simulator registered with us, the way a CPO we invited does it."""
    partner, token_a = partner_invite(name="Simulated CPO")
    sim.register_with(f"{emsp}/ocpi/versions", token_a)
    partner.refresh_from_db()
    return partner
