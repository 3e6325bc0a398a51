"""Fixtures of the driver API tests: drivers signed in with a JWT access token, as the app is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from drivers.models import Driver
from tests.billing.factories import a_driver


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
