"""Many CPO clients PATCHing the same EVSEs at once: the newest status always wins.

CPO platforms send status changes from many workers, so updates of one EVSE arrive shuffled and
overlapping. Whatever the interleaving, an EVSE ends with the status of its newest update, and that
update is answered as applied. Run against the real database with real threads (on PostgreSQL in CI:
row locks and snapshots are where this can go wrong; on SQLite writers take turns).
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client

from roaming.models import Evse, EvseStatusChange, Location, Partner
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/ocpi/2.2.1/locations/BE/BEC/LOC1"
CLIENTS = 16
ROUNDS = 60  # one EVSE a round
BASE = datetime(2026, 11, 1, tzinfo=UTC)
STATUSES = ("AVAILABLE", "CHARGING")


def _network(partner: Partner, uids: list[str]) -> None:
    location = Location.objects.create(
        partner=partner, country_code="BE", party_id="BEC", ocpi_id="LOC1", address="Street 1", city="Gent",
        country="BEL", latitude=Decimal("51.05"), longitude=Decimal("3.72"), last_updated=BASE,
    )  # fmt: skip
    Evse.objects.bulk_create(Evse(location=location, uid=uid, status="UNKNOWN", last_updated=BASE) for uid in uids)


def test_shuffled_concurrent_status_patches_keep_the_newest(cpo: tuple[Partner, str]) -> None:
    """Every round, all clients send one update each of the same EVSE at once, at distinct times and in
    one of two statuses: a newer update often repeats the status that a concurrent older one sets, the case
    that lost the newest update when "status changed" and "status unchanged" were decided apart."""
    partner, token = cpo
    uids = [f"E{n}" for n in range(ROUNDS)]
    _network(partner, uids)
    rng = random.Random(20)
    rounds = [
        [(rng.choice(STATUSES), BASE + timedelta(seconds=s)) for s in rng.sample(range(86_400), CLIENTS)] for _ in uids
    ]
    answers: dict[tuple[str, datetime], str] = {}
    errors: list[BaseException] = []
    together = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        try:
            ocpi = OcpiTestClient(Client(), token)
            for uid, updates in zip(uids, rounds, strict=True):
                status, at = updates[n]
                together.wait()
                reply = ocpi.patch(f"{URL}/{uid}", {"status": status, "last_updated": at.isoformat()})
                assert (reply.http_status, reply.status_code) == (200, 1000), reply.body
                answers[(uid, at)] = reply.body.get("status_message") or "applied"
        except BaseException as exc:
            together.abort()
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]

    ocpi = OcpiTestClient(Client(), token)
    lost = []
    for uid, updates in zip(uids, rounds, strict=True):
        newest_status, newest_at = max(updates, key=lambda u: u[1])
        stored = Evse.objects.get(uid=uid)
        if "Not applied" in answers[(uid, newest_at)] or (stored.status, stored.last_updated) != (
            newest_status,
            newest_at,
        ):
            lost.append(
                f"{uid}: newest {newest_status}@{newest_at:%H:%M:%S} answered {answers[(uid, newest_at)]!r}, "
                f"holds {stored.status}@{stored.last_updated:%H:%M:%S}"
            )
        assert ocpi.get(f"{URL}/{uid}").data["status"] == stored.status
        # History rows are appended in the order updates were applied: the latest names the status held.
        assert EvseStatusChange.objects.filter(evse=stored).latest("changed_at").status == stored.status
    assert not lost, lost
