"""Fixtures of the driver API tests: drivers signed in with a JWT access token, as the app is."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from drivers.models import Driver
from tests.billing.factories import a_driver


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
