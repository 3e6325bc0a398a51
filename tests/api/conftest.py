"""Fixtures of the driver API tests: drivers signed in with a JWT access token, as the app is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from pytest_django.fixtures import Settings as DjangoSettings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from cposim import Simulator
from drivers.models import Driver
from roaming.models import Partner
from roaming.services.partners import register_with
from roaming.sync import sync_partner
from tests.billing.factories import a_driver
from tests.integration.conftest import SIM_START, simulated_cpo


@pytest.fixture(autouse=True)
def _throttles_reset() -> Iterator[None]:
    """Throttles count in the cache: every test starts with none spent (sign-up allows 5 an hour)."""
    cache.clear()
    yield
    cache.clear()


def signed_in(driver: Driver) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(driver.user).access_token}")
    return client


@pytest.fixture
def ann(db: None) -> Driver:
    return a_driver("Ann Smit")


@pytest.fixture
def app(ann: Driver) -> APIClient:
    """Ann's app."""
    return signed_in(ann)


@pytest.fixture
def sim(live_server: Any, settings: DjangoSettings) -> Iterator[Simulator]:
    """The CPO simulator, live on loopback, calling us at the live server."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    with simulated_cpo(start_time=SIM_START) as simulator:
        yield simulator


@pytest.fixture
def cpo(sim: Simulator) -> Partner:
    """We registered with the simulator and hold its locations and tariffs."""
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    for module in ("locations", "tariffs"):
        assert sync_partner(partner=partner, module=module, full=True).status == "succeeded"
    return partner
