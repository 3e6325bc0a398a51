"""Bounded load through the real OCPI receivers (issue 19, item 5): gunicorn on PostgreSQL, 32 keep-alive
clients on loopback, while a sync of another CPO runs.

EVSE status PATCHes, shuffled and 10 % sent twice, 1 % refused on purpose (an EVSE we do not hold, a last_updated
that is no time): every answer is one of applied (200/1000), ignored as older (200/1000 "Not applied":
the EVSE holds a newer update) or rejected (an OCPI 2xxx code), the three add up to what was sent,
and each EVSE ends with the status of its newest update. CDR POSTs with 10 % duplicates: each CDR stored
once and priced once (by a real Celery worker; a trigger counts the pricings).

Counts are settings (LOAD_EVSE_UPDATES, LOAD_CDRS, LOAD_CLIENTS; the CI defaults are those of the issue).
Timings are reported in docs/bench, never asserted here.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connections
from pytest_django.fixtures import Settings as DjangoSettings

from bench.loadgen import build_request, run_load
from bench.servers import free_port
from bench.servers import gunicorn as bench_gunicorn
from billing.models import CdrPrice
from cposim import SimConfig, Simulator
from roaming.models import Cdr, Evse, Location, SyncRun
from roaming.services.partners import register_with
from roaming.sync import sync_partner
from tests.billing.conftest import TARIFF, cdr_body, tariff_url
from tests.faults.conftest import Ocpi, pricings
from tests.faults.procs import Worker, server_env
from tests.roaming.conftest import registered_partner

pytestmark = [pytest.mark.load, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

EVSE_UPDATES = int(os.environ.get("LOAD_EVSE_UPDATES", "100000"))
CDRS = int(os.environ.get("LOAD_CDRS", "20000"))
CLIENTS = int(os.environ.get("LOAD_CLIENTS", "32"))
EVSES_PER_LOCATION = 5
LOCATIONS = max(1, min(1000, EVSE_UPDATES // 100))  # about 20 updates an EVSE, so that many arrive out of order
STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "RESERVED", "OUTOFORDER", "INOPERATIVE")
BASE = datetime(2031, 1, 1, tzinfo=UTC)
SEED = 19
#: Where the figures of the last run are written (read into docs/bench by hand; never asserted).
REPORT = os.environ.get("LOAD_REPORT", "")


@pytest.fixture
def server(
    on_postgres: str, pricing_audit: str, broker_url: str, settings: DjangoSettings
) -> Iterator[tuple[int, str, str]]:
    """gunicorn (2 workers x 16 threads, as bench runs it) on the test database: (port, the CPO's token, the
    test database's URL)."""
    _, token = registered_partner("Load CPO", [("BE", "BEC")])
    port = free_port()
    settings.OCPI_BASE_URL = f"http://127.0.0.1:{port}/ocpi"
    extra = server_env(DATABASE_URL=on_postgres, OCPI_BASE_URL=settings.OCPI_BASE_URL)
    with bench_gunicorn(port=port, workers=2, threads=16, connections=CLIENTS, **_changed(extra)):
        yield port, token, on_postgres


def _changed(env: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in env.items() if os.environ.get(key) != value}


def _network() -> list[tuple[str, str]]:
    """LOCATIONS locations of BE/BEC with EVSES_PER_LOCATION EVSEs each, written straight to the database."""
    from roaming.models import Partner

    partner = Partner.objects.get(name="Load CPO")
    old = BASE - timedelta(days=1)
    locations = Location.objects.bulk_create(
        Location(
            partner=partner,
            country_code="BE",
            party_id="BEC",
            ocpi_id=f"LD{n:05}",
            address="Street 1",
            city="Gent",
            country="BEL",
            latitude=Decimal("51.05"),
            longitude=Decimal("3.72"),
            last_updated=old,
        )
        for n in range(LOCATIONS)
    )
    Evse.objects.bulk_create(
        Evse(location=location, uid=f"{location.ocpi_id}-{e}", status="UNKNOWN", last_updated=old)
        for location in locations
        for e in range(EVSES_PER_LOCATION)
    )
    return [(location.ocpi_id, f"{location.ocpi_id}-{e}") for location in locations for e in range(EVSES_PER_LOCATION)]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def _classify(status: int, body: bytes) -> str:
    envelope = json.loads(body)
    if status == 200 and envelope["status_code"] == 1000:
        return "ignored" if envelope.get("status_message", "").startswith("Not applied") else "applied"
    if status < 500 and 2000 <= envelope["status_code"] < 3000:  # a client error (some are answered HTTP 200)
        return "rejected"
    return f"unexpected {status}/{envelope['status_code']}"  # fails the test's count of kinds


def _classify_cdr(status: int, body: bytes) -> str:
    """201: stored; 200: the CDR was already here (a duplicate, stored nothing)."""
    code = json.loads(body)["status_code"]
    return {(201, 1000): "stored", (200, 1000): "duplicate"}.get((status, code), f"unexpected {status}/{code}")


@contextmanager
def _sync_while_loading() -> Iterator[None]:
    """A full pull of a second CPO (the simulator, 300 locations in pages of 50) in a thread."""
    outcome: dict[str, Any] = {}
    with Simulator(SimConfig(seed=7, locations=300, country_code="NL", party_id="SIM", page_limit=50)) as sim:
        partner = register_with(versions_url=sim.versions_url, token_a=sim.token_a)

        def pull() -> None:
            try:
                outcome["run"] = sync_partner(partner=partner, module="locations", full=True)
            finally:
                connections.close_all()

        thread = threading.Thread(target=pull)
        thread.start()
        yield
        thread.join(600)
    run: SyncRun = outcome["run"]
    assert (run.status, run.seen) == ("succeeded", 300)


def _report(**figures: Any) -> None:
    print("load:", json.dumps(figures))
    if REPORT:
        with open(REPORT, "a") as out:
            out.write(json.dumps(figures) + "\n")


def test_evse_status_updates_from_32_clients_end_at_the_newest_and_every_answer_is_counted(
    server: tuple[int, str, str],
) -> None:
    port, token, _ = server
    evses = _network()
    rng = random.Random(SEED)
    rejected = EVSE_UPDATES // 100
    duplicates = EVSE_UPDATES // 10
    unique = EVSE_UPDATES - rejected - duplicates
    host, auth = f"127.0.0.1:{port}", _auth(token)
    newest: dict[str, tuple[datetime, str]] = {}
    updates: list[bytes] = []
    for n in range(unique):
        location_id, uid = evses[n % len(evses)]
        at, status = BASE + timedelta(seconds=n // len(evses), milliseconds=rng.randrange(1000)), rng.choice(STATUSES)
        newest[uid] = max(newest.get(uid, (at, status)), (at, status))
        body = json.dumps({"status": status, "last_updated": at.isoformat().replace("+00:00", "Z")}).encode()
        updates.append(build_request("PATCH", f"/ocpi/2.2.1/locations/BE/BEC/{location_id}/{uid}", host, body, auth))
    updates += rng.sample(updates, duplicates)
    stamp = BASE.isoformat().replace("+00:00", "Z")
    for n in range(rejected):
        location_id, uid = evses[n % len(evses)]
        wrong: dict[str, str]
        if n % 2:  # an EVSE we do not hold
            path, wrong = f"/ocpi/2.2.1/locations/BE/BEC/{location_id}/NOPE-{n}", {}
        else:  # a last_updated that is no time (an unknown status would be taken: OCPI enums are open)
            path, wrong = f"/ocpi/2.2.1/locations/BE/BEC/{location_id}/{uid}", {"last_updated": "yesterday"}
        patch = {"status": "AVAILABLE", "last_updated": stamp, **wrong}
        updates.append(build_request("PATCH", path, host, json.dumps(patch).encode(), auth))
    rng.shuffle(updates)

    started = time.monotonic()
    with _sync_while_loading():
        result = run_load("127.0.0.1", port, updates, connections=CLIENTS, seconds=3600, classify=_classify)
    seconds = time.monotonic() - started

    assert result.requests == EVSE_UPDATES
    assert set(result.kinds) <= {"applied", "ignored", "rejected"}, result.kinds
    assert result.kinds["rejected"] == rejected
    assert result.kinds["applied"] + result.kinds["ignored"] + result.kinds["rejected"] == EVSE_UPDATES
    assert result.kinds["applied"] >= len(newest)  # at least each EVSE's newest update applied
    assert result.kinds["ignored"] > 0  # shuffled: some arrived after a newer one
    held = {
        uid: (at, status)
        for uid, at, status in Evse.objects.filter(uid__in=newest).values_list("uid", "last_updated", "status")
    }
    assert held == newest
    _report(
        test="evse_status", updates=EVSE_UPDATES, clients=CLIENTS, evses=len(evses), seconds=round(seconds, 1),
        throughput=round(result.throughput), p50_ms=round(result.percentile(50), 1),
        p99_ms=round(result.percentile(99), 1), **result.kinds,
    )  # fmt: skip


def test_cdr_posts_with_duplicates_are_stored_once_and_priced_once(server: tuple[int, str, str]) -> None:
    port, token, database_url = server
    assert Ocpi(f"http://127.0.0.1:{port}", token).call("PUT", tariff_url(TARIFF), TARIFF).status_code == 201
    rng = random.Random(SEED)
    duplicates = CDRS // 10
    unique = CDRS - duplicates
    host, auth = f"127.0.0.1:{port}", _auth(token)
    bodies = [json.dumps(cdr_body(f"LOAD-{n:06}")).encode() for n in range(unique)]
    posts = [build_request("POST", "/ocpi/2.2.1/cdrs", host, body, auth) for body in bodies]
    posts += rng.sample(posts, duplicates)
    rng.shuffle(posts)

    worker = Worker(server_env(DATABASE_URL=database_url))
    worker.start()
    try:
        started = time.monotonic()
        result = run_load("127.0.0.1", port, posts, connections=CLIENTS, seconds=3600, classify=_classify_cdr)
        posted = time.monotonic() - started
        assert result.requests == CDRS
        assert result.kinds == {"stored": unique, "duplicate": duplicates}
        assert Cdr.objects.count() == unique
        for _ in range(6000):  # until the worker has drained the backlog (bounded: 10 minutes)
            if not CdrPrice.objects.filter(status=CdrPrice.Status.PENDING).exists():
                break
            time.sleep(0.1)
        priced = time.monotonic() - started
    finally:
        worker.stop()
    assert Counter(CdrPrice.objects.values_list("status", flat=True)) == {CdrPrice.Status.PRICED: unique}
    assert Counter(pricings().values()) == {1: unique}
    _report(
        test="cdr_post", posts=CDRS, unique=unique, clients=CLIENTS, post_seconds=round(posted, 1),
        throughput=round(result.throughput), p99_ms=round(result.percentile(99), 1),
        priced_after_seconds=round(priced, 1), statuses=result.statuses,
    )  # fmt: skip
