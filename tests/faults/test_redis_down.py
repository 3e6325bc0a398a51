"""Redis down: what CPOs send us is still answered and stored; the follow-up work waits and runs when Redis is
back (issue 19, items 2 and 4).

A gunicorn process serves the platform with REDIS_URL (cache) and CELERY_BROKER_URL pointing at a private
redis-server, which the test kills (no persistence: whatever was queued in it is lost, as in a crash) and
starts again. The follow-up work that must survive is in PostgreSQL: the outbox rows of durable tasks and the
PENDING price each CDR is stored with, which the per-minute drain (`billing.price_cdrs`) takes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from celery import Task
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import transaction
from pytest_django.fixtures import Settings as DjangoSettings

from billing.models import CdrPrice
from billing.tasks import price_cdrs_task
from cposim import SimConfig, Simulator
from drivers.services import token_issue
from emsp.celery import app
from emsp.lib.tasks import enqueue, outbox_sweep
from roaming.models import Authorization, ChargingSession, Evse, Location, Partner, TokenPushCursor
from roaming.selectors import token_changes_pending
from roaming.services.partners import register_with
from roaming.services.tokens import push_token_changes
from roaming.tasks import push_tokens_due_task
from tests.billing.conftest import TARIFF, cdr_body, location_body, tariff_url
from tests.examples import example
from tests.faults.conftest import Ocpi, pricings
from tests.faults.procs import PrivateRedis, Worker, gunicorn, server_env
from tests.roaming.conftest import registered_partner
from tests.roaming.fakecpo import make_driver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

LOCATION = "/ocpi/2.2.1/locations/BE/BEC"


@pytest.fixture
def platform(on_postgres: str, private_redis: PrivateRedis) -> Iterator[tuple[Ocpi, PrivateRedis]]:
    """Our platform in gunicorn, on the test database and the private Redis; a CPO (BE/BEC) registered."""
    _, token = registered_partner("Redis CPO", [("BE", "BEC")])
    token_issue(driver=make_driver(), uid="04A1B2C3")
    env = server_env(
        DATABASE_URL=on_postgres,
        REDIS_URL=private_redis.url(0),
        CELERY_BROKER_URL=private_redis.url(1),
        EMSP_TASK_PUBLISH_TIMEOUT="1",
    )
    with gunicorn(env) as base_url:
        yield Ocpi(base_url, token), private_redis


def _session(session_id: str) -> dict[str, Any]:
    body = example("sessions/session_example_1_simple_start.json")
    body.update(id=session_id, location_id="LOC1", country_code="BE", party_id="BEC")
    return body


def _pricing_done() -> bool:
    return not CdrPrice.objects.filter(status=CdrPrice.Status.PENDING).exists()


def _pending(partner: Partner) -> int:
    return token_changes_pending(TokenPushCursor.objects.get(partner=partner))


def _at_cpo(sim: Simulator, uid: str) -> dict[str, Any]:
    token = sim.token(uid)
    assert token is not None, f"the CPO has no token {uid}"
    return token


def _drain_with_a_worker(
    redis_server: PrivateRedis, database_url: str, job: Task = price_cdrs_task, until: Any = _pricing_done
) -> None:
    """What the beat does every minute once Redis is back: the outbox sweep, then a periodic `job` (the
    pricing drain, the token pushes due); a real worker on the private Redis runs them until `until()`."""
    env = server_env(DATABASE_URL=database_url, CELERY_BROKER_URL=redis_server.url(1), REDIS_URL=redis_server.url(0))
    worker = Worker(env)
    worker.start()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("CELERY_BROKER_URL", redis_server.url(1))
            patch.setattr("emsp.lib.tasks._publish_paused_until", 0.0)
            assert outbox_sweep().error == ""
            with transaction.atomic():  # the beat's job, through the outbox
                enqueue(job)
        _wait_until(until)
    finally:
        app.conf.task_always_eager = eager
        worker.stop()


def _wait_until(condition: Any, attempts: int = 600) -> None:
    """Polls `condition` (each poll is a query); bounded, so a test that will never see it fails."""
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("the condition was not met in 60 s")


def test_with_redis_down_receivers_and_authorization_answer_and_store_and_pricing_runs_when_it_is_back(
    platform: tuple[Ocpi, PrivateRedis], on_postgres: str, pricing_audit: str
) -> None:
    cpo, redis_server = platform
    assert cpo.call("PUT", tariff_url(TARIFF), TARIFF).status_code in (200, 201)
    redis_server.stop()

    location = cpo.call("PUT", f"{LOCATION}/LOC1", location_body())
    session = cpo.call("PUT", "/ocpi/2.2.1/sessions/BE/BEC/S-1", _session("S-1"))
    cdr = cpo.call("POST", "/ocpi/2.2.1/cdrs", cdr_body("CDR-1"))
    authorization = cpo.call("POST", "/ocpi/2.2.1/tokens/04A1B2C3/authorize", {"location_id": "LOC1"})
    patched = cpo.call("PATCH", f"{LOCATION}/LOC1/3256", {"status": "CHARGING", "last_updated": "2030-01-01T00:00:00Z"})

    answers = [(r.status_code, r.json()["status_code"]) for r in (location, session, cdr, authorization, patched)]
    assert answers == [(201, 1000), (201, 1000), (201, 1000), (200, 1000), (200, 1000)]
    assert authorization.json()["data"]["allowed"] == "ALLOWED"
    assert Location.objects.filter(ocpi_id="LOC1").exists()
    assert Evse.objects.get(uid="3256").status == "CHARGING"
    assert ChargingSession.objects.filter(ocpi_id="S-1").exists()
    assert Authorization.objects.filter(token_uid="04A1B2C3").exists()
    price = CdrPrice.objects.get(cdr__ocpi_id="CDR-1")
    assert price.status == CdrPrice.Status.PENDING  # kept: the pricing backlog is the CDR's own row

    redis_server.start()  # empty: what was queued before the crash is gone
    _drain_with_a_worker(redis_server, on_postgres)
    price.refresh_from_db()
    assert (price.status, price.total_excl_vat) == (CdrPrice.Status.PRICED, Decimal("4.50"))
    assert pricings() == {price.cdr_id: 1}


def test_redis_killed_and_restarted_during_traffic_loses_no_update_and_prices_every_cdr_once(
    platform: tuple[Ocpi, PrivateRedis], on_postgres: str, pricing_audit: str
) -> None:
    """Four CPO clients send status updates and CDRs while Redis dies and comes back: every request is
    answered 2xx/1000, every EVSE ends at its newest status, every CDR is stored and priced once."""
    cpo, redis_server = platform
    assert cpo.call("PUT", tariff_url(TARIFF), TARIFF).status_code in (200, 201)
    assert cpo.call("PUT", f"{LOCATION}/LOC1", location_body()).status_code == 201
    evses = list(Evse.objects.values_list("uid", flat=True))
    base = datetime(2031, 1, 1, tzinfo=UTC)
    per_client, clients = 60, 4
    sent = Counter[str]()
    answers: list[tuple[int, int]] = []
    newest: dict[str, tuple[datetime, str]] = {}
    lock = threading.Lock()
    phase = {"down": threading.Event(), "up": threading.Event()}

    def client(n: int) -> None:
        ocpi = Ocpi(cpo.base_url, "")
        ocpi.session.headers.update(cpo.session.headers)
        for i in range(per_client):
            if i == per_client // 3:
                phase["down"].wait(60)
            if i == 2 * per_client // 3:
                phase["up"].wait(60)
            if i % 3 == 0:
                reply = ocpi.call("POST", "/ocpi/2.2.1/cdrs", cdr_body(f"CDR-{n}-{i}"))
            else:
                at, uid = base + timedelta(seconds=i * clients + n), evses[(i + n) % len(evses)]
                status = ("AVAILABLE", "CHARGING", "BLOCKED")[(i + n) % 3]
                stamp = at.isoformat().replace("+00:00", "Z")
                reply = ocpi.call("PATCH", f"{LOCATION}/LOC1/{uid}", {"status": status, "last_updated": stamp})
                with lock:
                    newest[uid] = max(newest.get(uid, (at, status)), (at, status))
            with lock:
                answers.append((reply.status_code, reply.json()["status_code"]))
                sent["requests"] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    _wait_until(lambda: sent["requests"] >= clients * (per_client // 3))
    redis_server.stop()
    phase["down"].set()
    _wait_until(lambda: sent["requests"] >= clients * (2 * per_client // 3))
    redis_server.start()
    phase["up"].set()
    for thread in threads:
        thread.join(120)

    assert len(answers) == clients * per_client
    assert Counter(code for _, code in answers) == {1000: clients * per_client}
    assert {http for http, _ in answers} <= {200, 201}
    assert dict(Evse.objects.values_list("uid", "status")) == {uid: status for uid, (_, status) in newest.items()}

    _drain_with_a_worker(redis_server, on_postgres)
    cdrs = clients * len(range(0, per_client, 3))
    assert Counter(CdrPrice.objects.values_list("status", flat=True)) == {CdrPrice.Status.PRICED: cdrs}
    assert Counter(pricings().values()) == {1: cdrs}


def test_with_redis_down_a_driver_reports_a_card_lost_and_every_cpo_hears_of_it_when_redis_is_back(
    on_postgres: str, private_redis: PrivateRedis, settings: DjangoSettings
) -> None:
    """The driver API (login, its throttle, the card) and the token outbox need only PostgreSQL: with Redis
    down the driver signs in and reports the card lost; the push to the CPO, whose broker message could not
    be sent, is delivered by the sweep and a real worker once Redis is back."""
    driver = make_driver("lena")
    # Hashed as the server's settings hash (the test settings use a fast hasher the server does not know).
    driver.user.password = PBKDF2PasswordHasher().encode("pw", PBKDF2PasswordHasher().salt())
    driver.user.save(update_fields=["password"])
    card = token_issue(driver=driver, uid="04FA17ED", visual_number="NL-EMS-LOST-1")
    env = server_env(
        DATABASE_URL=on_postgres, REDIS_URL=private_redis.url(0), CELERY_BROKER_URL=private_redis.url(1),
        EMSP_TASK_PUBLISH_TIMEOUT="1",
    )  # fmt: skip
    with gunicorn(env) as base_url, Simulator(SimConfig(seed=3, locations=2, country_code="NL", party_id="RDS")) as sim:
        settings.OCPI_BASE_URL = f"{base_url}/ocpi"  # the versions URL the CPO reads during the handshake
        partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)
        assert push_token_changes(partner=partner).sent == 1
        assert _at_cpo(sim, card.uid)["valid"] is True

        private_redis.stop()
        app = requests.Session()
        login = app.post(f"{base_url}/api/v1/auth/login", json={"email": "lena@example.com", "password": "pw"})
        assert login.status_code == 200, login.text
        app.headers["Authorization"] = f"Bearer {login.json()['access']}"
        lost = app.post(f"{base_url}/api/v1/cards/{card.pk}/lost", timeout=60)
        assert (lost.status_code, lost.json()["status"]) == (200, "lost"), lost.text

        assert _at_cpo(sim, card.uid)["valid"] is True  # not heard yet: the push waits in PostgreSQL
        assert _pending(partner) == 1
        private_redis.start()
        _drain_with_a_worker(private_redis, on_postgres, push_tokens_due_task, until=lambda: _pending(partner) == 0)
        assert _at_cpo(sim, card.uid)["valid"] is False
