"""Whoever registers a partner (staff in the admin, `ocpi_register`) is told what becomes of its first pull."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as DjangoSettings

from roaming.models import PartnerRole
from roaming.services import partners
from roaming.services.partners import first_pull_plan
from tests.roaming.conftest import registered_partner

pytestmark = pytest.mark.django_db


def test_the_first_pull_runs_here_or_is_handed_to_the_workers(
    settings: DjangoSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OCPI_SYNC_ON_REGISTER = True
    partner, _ = registered_partner("Some CPO", [("NL", "ABC")])
    monkeypatch.setattr(partners, "tasks_run_in_process", lambda: True)  # the embedded mode
    assert first_pull_plan(partner=partner).startswith("The first pull (locations, tariffs")
    assert "runs in this process" in first_pull_plan(partner=partner)
    monkeypatch.setattr(partners, "tasks_run_in_process", lambda: False)  # a broker and workers
    assert "handed to the workers through the broker" in first_pull_plan(partner=partner)


def test_no_first_pull_is_said_too(settings: DjangoSettings) -> None:
    partner, _ = registered_partner("Some CPO", [("NL", "ABC")])
    settings.OCPI_SYNC_ON_REGISTER = False
    assert first_pull_plan(partner=partner).startswith("No first pull")
    settings.OCPI_SYNC_ON_REGISTER = True
    PartnerRole.objects.filter(partner=partner).update(role="EMSP")
    assert first_pull_plan(partner=partner).startswith("No first pull")
