"""Many CPO clients writing the same objects at once: the newest version always wins.

CPO platforms send updates from many workers, so updates of one object arrive shuffled and overlapping.
Whatever the interleaving, an EVSE ends with the status of its newest update, and that update is answered
as applied; a tariff or location ends as its newest version. Run against the real database with real
threads (on PostgreSQL in CI: row locks and snapshots are where this can go wrong; on SQLite writers take
turns).
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from roaming.models import ChargingSession, Evse, EvseStatusChange, Location, Partner, PriceComponent, Tariff
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


def _in_rounds(token: str, rounds: list[list[tuple[str, str, dict[str, Any]]]]) -> list[list[str]]:
    """Send each round's requests at once, one per client (client n sends the n-th), round after round.

    Returns each request's status message ("applied" when none); every answer must be a 200/1000.
    """
    answers = [[""] * CLIENTS for _ in rounds]
    errors: list[BaseException] = []
    together = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        try:
            ocpi = OcpiTestClient(Client(), token)
            for r, requests in enumerate(rounds):
                method, path, body = requests[n]
                together.wait()
                reply = ocpi.call(method, path, body)
                assert (reply.http_status in (200, 201), reply.status_code) == (True, 1000), reply.body
                answers[r][n] = reply.body.get("status_message") or "applied"
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
    return answers


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
    answers = _in_rounds(
        token,
        [
            [("PATCH", f"{URL}/{uid}", {"status": status, "last_updated": at.isoformat()}) for status, at in updates]
            for uid, updates in zip(uids, rounds, strict=True)
        ],
    )

    ocpi = OcpiTestClient(Client(), token)
    lost = []
    for n, (uid, updates) in enumerate(zip(uids, rounds, strict=True)):
        newest = max(range(CLIENTS), key=lambda c: updates[c][1])
        newest_status, newest_at = updates[newest]
        stored = Evse.objects.get(uid=uid)
        if "Not applied" in answers[n][newest] or (stored.status, stored.last_updated) != (
            newest_status,
            newest_at,
        ):
            lost.append(
                f"{uid}: newest {newest_status}@{newest_at:%H:%M:%S} answered {answers[n][newest]!r}, "
                f"holds {stored.status}@{stored.last_updated:%H:%M:%S}"
            )
        assert ocpi.get(f"{URL}/{uid}").data["status"] == stored.status
        # History rows are appended in the order updates were applied: the latest names the status held.
        assert EvseStatusChange.objects.filter(evse=stored).latest("changed_at").status == stored.status
    assert not lost, lost


def _tariff(tariff_id: str, price: Decimal, at: datetime) -> dict[str, Any]:
    return {
        "country_code": "BE", "party_id": "BEC", "id": tariff_id, "currency": "EUR", "last_updated": at.isoformat(),
        "elements": [{"price_components": [{"type": "ENERGY", "price": str(price), "vat": 21, "step_size": 1}]}],
    }  # fmt: skip


def test_concurrent_tariff_puts_keep_the_newest_version(cpo: tuple[Partner, str]) -> None:
    """Whole objects too: of concurrent PUTs of one tariff, the newest version is the one kept, with its elements.
    Billing prices CDRs with the version it holds."""
    _, token = cpo
    rng = random.Random(21)
    tariff_ids = [f"T{n}" for n in range(ROUNDS // 3)]
    versions = {
        tariff_id: [
            (Decimal(rng.randrange(10, 99)) / 100, BASE + timedelta(seconds=s))
            for s in rng.sample(range(86_400), CLIENTS)
        ]
        for tariff_id in tariff_ids
    }
    _in_rounds(
        token,
        [
            [("PUT", f"/ocpi/2.2.1/tariffs/BE/BEC/{tariff_id}", _tariff(tariff_id, price, at)) for price, at in updates]
            for tariff_id, updates in versions.items()
        ],
    )
    for tariff_id, updates in versions.items():
        price, at = max(updates, key=lambda u: u[1])
        stored = Tariff.objects.get(ocpi_id=tariff_id)
        assert stored.last_updated == at, tariff_id
        assert list(PriceComponent.objects.filter(element__tariff=stored).values_list("price", flat=True)) == [price]


def _session(session_id: str, kwh: Decimal, at: datetime) -> dict[str, Any]:
    return {
        "country_code": "BE", "party_id": "BEC", "id": session_id, "start_date_time": BASE.isoformat(), "kwh": str(kwh),
        "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": "04A1B2C3", "type": "RFID",
                      "contract_id": "NL-EMS-C00000001-X"},
        "auth_method": "WHITELIST", "location_id": "LOC1", "evse_uid": "E1", "connector_id": "1", "currency": "EUR",
        "status": "ACTIVE", "last_updated": at.isoformat(),
    }  # fmt: skip


def test_concurrent_session_puts_and_patches_keep_the_newest(cpo: tuple[Partner, str]) -> None:
    """Sessions are decided in Python (their lifecycle rule), so writers of one session take turns: of
    concurrent PUTs and PATCHes, the newest is what we hold, whether the session existed before or not."""
    _, token = cpo
    rng = random.Random(22)
    url = "/ocpi/2.2.1/sessions/BE/BEC"

    def versions() -> list[tuple[Decimal, datetime]]:
        return [
            (Decimal(rng.randrange(1, 9999)) / 100, BASE + timedelta(seconds=s))
            for s in rng.sample(range(1, 86_400), CLIENTS)
        ]

    new = {f"NEW{n}": versions() for n in range(ROUNDS // 6)}  # all clients PUT a session we don't hold yet
    known = {f"OLD{n}": versions() for n in range(ROUNDS // 6)}  # a few PUT, the others PATCH
    for session_id in known:
        OcpiTestClient(Client(), token).put(f"{url}/{session_id}", _session(session_id, Decimal(0), BASE))
    _in_rounds(
        token,
        [
            [("PUT", f"{url}/{session_id}", _session(session_id, kwh, at)) for kwh, at in updates]
            for session_id, updates in new.items()
        ]
        + [
            [("PUT", f"{url}/{session_id}", _session(session_id, kwh, at)) for kwh, at in updates[:4]]
            + [
                ("PATCH", f"{url}/{session_id}", {"kwh": str(kwh), "last_updated": at.isoformat()})
                for kwh, at in updates[4:]
            ]
            for session_id, updates in known.items()
        ],
    )
    for session_id, updates in {**new, **known}.items():
        kwh, at = max(updates, key=lambda u: u[1])
        stored = ChargingSession.objects.get(ocpi_id=session_id)
        assert (stored.kwh, stored.last_updated) == (kwh, at), session_id
