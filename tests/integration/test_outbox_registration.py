"""A registration while the broker is down (issue 20, item 4): the CPO gets its token C, and the first pull
it calls for waits in the outbox until the broker is back. Also `ocpi_register` without a broker: the first
pull runs before the command exits."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from io import StringIO

import pytest
import requests
from django.core.management import call_command
from pytest_django.fixtures import Settings as DjangoSettings

from cposim import Simulator
from emsp.lib.tasks import outbox_sweep
from emsp.models import OutboxTask
from roaming.models import Partner, SyncRun
from roaming.services.partners import partner_invite
from roaming.services.schedules import MODULES
from tests.conftest import closed_port_url

pytestmark = pytest.mark.django_db(transaction=True)


def _register_while_the_broker_is_down(emsp: str, sim: Simulator, broker_at: Callable[[str], None]) -> Partner:
    broker_at(closed_port_url())
    partner, token_a = partner_invite(name="Registers during an outage")
    sim.register_with(f"{emsp}/ocpi/versions", token_a)  # raises unless we answered with our credentials
    partner.refresh_from_db()
    return partner


@pytest.mark.timeout(60)  # before: 19.4 s per task on Celery's retries, and the simulator gives up at 10 s
def test_cpo_registering_while_the_broker_is_down_gets_its_token_c(
    emsp: str, sim: Simulator, broker_at: Callable[[str], None], settings: DjangoSettings
) -> None:
    settings.OCPI_SYNC_ON_REGISTER = True
    partner = _register_while_the_broker_is_down(emsp, sim, broker_at)

    assert partner.status == Partner.Status.REGISTERED
    token_c = base64.b64encode((sim.outbound_token or "").encode()).decode()
    reply = requests.get(f"{emsp}/ocpi/2.2.1", headers={"Authorization": f"Token {token_c}"}, timeout=10)
    assert reply.status_code == 200  # the simulator has our token C, and it works
    rows = OutboxTask.objects.order_by("pk")
    assert [(row.task, row.args) for row in rows] == [
        ("roaming.sync_partner", [partner.pk, str(module), True]) for module in MODULES
    ]
    # The broker was tried once, for the first pull; after that failure the rest went straight to the outbox.
    assert [row.attempts for row in rows] == [1] + [0] * (len(MODULES) - 1)
    assert rows[0].last_error.startswith("OperationalError: ")
    assert not SyncRun.objects.filter(partner=partner).exists()


@pytest.mark.redis
@pytest.mark.timeout(240)
def test_first_pull_runs_once_the_broker_is_back(
    emsp: str,
    sim: Simulator,
    broker_at: Callable[[str], None],
    broker_url: str,
    worker: str,
    settings: DjangoSettings,
) -> None:
    settings.OCPI_SYNC_ON_REGISTER = True
    partner = _register_while_the_broker_is_down(emsp, sim, broker_at)
    assert OutboxTask.objects.count() == len(MODULES)

    broker_at(broker_url)
    deadline = time.monotonic() + 60
    while OutboxTask.objects.exists() and time.monotonic() < deadline:  # the first pull waits 5 s after the answer
        outbox_sweep()
        time.sleep(0.5)
    assert not OutboxTask.objects.exists()

    deadline = time.monotonic() + 120  # the worker process boots, then pulls from the simulator
    while SyncRun.objects.filter(partner=partner, status=SyncRun.Status.SUCCEEDED).count() < len(MODULES):
        assert time.monotonic() < deadline, list(SyncRun.objects.values_list("module", "status", "error"))
        time.sleep(0.5)
    assert partner.locations.count() == 12


def test_ocpi_register_waits_for_the_first_pull_it_started(emsp: str, sim: Simulator, settings: DjangoSettings) -> None:
    settings.OCPI_SYNC_ON_REGISTER = True
    settings.EMSP_EAGER_TASKS_IN_THREAD = True  # the embedded default: the pull runs in a thread
    out = StringIO()
    call_command("ocpi_register", "--", sim.versions_url, sim.token_a, stdout=out)  # token A may start with "-"

    partner = Partner.objects.get(versions_url=sim.versions_url)
    runs = SyncRun.objects.filter(partner=partner)
    assert sorted(runs.values_list("module", "status")) == sorted(
        (str(module), SyncRun.Status.SUCCEEDED) for module in MODULES
    )
    assert not OutboxTask.objects.exists()
    assert "Waiting up to" in out.getvalue()
    assert "roaming.sync_partner" in out.getvalue()
    assert "runs in this process" in out.getvalue()
    assert "  locations: succeeded, 12 seen (12 new, 0 invalid)" in out.getvalue()
