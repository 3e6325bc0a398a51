"""A credentials token that was rotated away, or whose connection was unregistered, stops opening our endpoints:
at once when unregistered, at the end of the rotation grace period (OCPI_TOKEN_ROTATION_GRACE) when rotated,
whichever side rotated, and also in a process that still holds the token's look-up in its auth cache. Time is
moved with time_machine; the CPO is the simulator over HTTP."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone
from pytest_django.fixtures import Settings as DjangoSettings
from time_machine import TimeMachineFixture

from cposim import Simulator
from roaming.models import CredentialsToken, Partner
from roaming.services.partners import purge_expired_tokens, register_with, rotate_our_token

pytestmark = pytest.mark.django_db(transaction=True)


def _status(url: str, token: str) -> int:
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    return requests.get(url, headers=auth, timeout=10).status_code


def _answers(emsp: str, token: str) -> tuple[int, int]:
    """(a functional module, the credentials module): the first may be answered from the auth cache."""
    return _status(f"{emsp}/ocpi/2.2.1/tokens", token), _status(f"{emsp}/ocpi/2.2.1/credentials", token)


def _around_the_end_of_grace(
    emsp: str, old: str, new: str, rotated_at: datetime, grace: int, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(rotated_at + timedelta(seconds=grace - 5), tick=False)
    assert _answers(emsp, old) == (200, 200)  # within the grace period; the look-up is cached now
    time_machine.move_to(rotated_at + timedelta(seconds=grace + 1), tick=False)
    assert _answers(emsp, old) == (401, 401)
    assert _answers(emsp, new) == (200, 200)
    assert purge_expired_tokens() == 1


def test_a_token_the_cpo_rotated_away_works_until_the_grace_period_ends(
    sim_registered_with_us: Partner,
    sim: Simulator,
    emsp: str,
    settings: DjangoSettings,
    time_machine: TimeMachineFixture,
) -> None:
    settings.OCPI_TOKEN_ROTATION_GRACE = grace = 60  # the setting, not the default of an hour
    settings.OCPI_AUTH_CACHE_SECONDS = 3600  # a process holding the old token's look-up must not be fooled
    old = sim.outbound_token or ""
    rotated_at = timezone.now()
    sim.rotate_credentials()
    new = sim.outbound_token or ""
    assert old != new
    _around_the_end_of_grace(emsp, old, new, rotated_at, grace, time_machine)


def test_the_cpos_token_before_we_rotated_works_until_the_grace_period_ends(
    emsp: str, sim: Simulator, settings: DjangoSettings, time_machine: TimeMachineFixture
) -> None:
    settings.OCPI_AUTH_CACHE_SECONDS = 3600
    partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
    old = sim.outbound_token or ""
    rotated_at = timezone.now()
    rotate_our_token(partner=partner)
    new = sim.outbound_token or ""
    assert old != new
    _around_the_end_of_grace(emsp, old, new, rotated_at, settings.OCPI_TOKEN_ROTATION_GRACE, time_machine)


def test_an_unregistered_connections_token_stops_at_once_even_when_cached(
    sim_registered_with_us: Partner, sim: Simulator, emsp: str, settings: DjangoSettings
) -> None:
    settings.OCPI_AUTH_CACHE_SECONDS = 3600
    token = sim.outbound_token or ""
    assert _answers(emsp, token) == (200, 200)  # cached
    sim.unregister()
    assert _answers(emsp, token) == (401, 401)
    assert not CredentialsToken.objects.filter(partner=sim_registered_with_us).exists()
