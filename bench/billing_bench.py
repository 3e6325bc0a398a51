"""Pricing through the task path (issue 14 targets): a backlog of 100,000 stored CDRs priced by Celery workers
on PostgreSQL within 90 s, and CDR POST ingest of at least 500 a second with pricing on.

The CDRs are realistic: 2 to 12 charging periods alternating charging and parking, each carrying its tariff of
3 to 6 elements with time-of-day and day-of-week restrictions, at a location we hold (Europe/Amsterdam). The
CPO's totals are the engine's own, so reconciliation runs in full and opens no dispute. A few hundred distinct
CDRs go in through the CDR service; the backlog copies them in one INSERT ... SELECT (new ids), since what is
measured is the pricing, not the loading.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

ZONE = "Europe/Amsterdam"
WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]


def _tariff(rng: random.Random, party: tuple[str, str], number: int, at: datetime) -> dict[str, Any]:
    day = {"start_time": "07:00", "end_time": "23:00", "day_of_week": WEEKDAYS}
    elements: list[dict[str, Any]] = [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 21.0, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": rng.choice((0.39, 0.45)), "vat": 21.0, "step_size": 1}],
         "restrictions": day},
        {"price_components": [{"type": "PARKING_TIME", "price": 2.0, "vat": 21.0, "step_size": 300}],
         "restrictions": {"start_time": "09:00", "end_time": "18:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.29, "vat": 21.0, "step_size": 1}]},
    ]  # fmt: skip
    if number % 2:
        elements.insert(1, {"price_components": [{"type": "TIME", "price": 1.2, "vat": 21.0, "step_size": 60}],
                            "restrictions": {"min_duration": 7200}})  # fmt: skip
    if number % 3 == 0:
        elements.insert(0, {"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 21.0, "step_size": 1}],
                            "restrictions": {"day_of_week": ["SATURDAY", "SUNDAY"]}})  # fmt: skip
    return {
        "country_code": party[0], "party_id": party[1], "id": f"BT{number}", "currency": "EUR",
        "elements": elements, "last_updated": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }  # fmt: skip


def realistic_cdr(rng: random.Random, n: int, party: tuple[str, str], card: tuple[str, str], location: str) -> dict:
    """One CDR as a CPO sends it, its totals priced by our engine (the CPO agrees with us)."""
    from billing.tariffs import price_cdr
    from billing.tariffs.ocpi_json import cdr_from_ocpi

    fmt = "%Y-%m-%dT%H:%M:%SZ"
    start = datetime(2026, 10, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 60))
    tariff = _tariff(rng, party, n % 12, start)
    periods, moment = [], start
    energy = time_h = parking_h = Decimal(0)
    for i in range(rng.randint(2, 12)):
        minutes = rng.choice((6, 12, 15, 24, 30, 45, 60))  # whole hundredths of an hour: OCPI's 4 decimals hold them
        hours = Decimal(minutes) / 60
        if i % 2 == 0:
            kwh = Decimal(rng.randint(5, 300)) / 10
            dimensions = [{"type": "ENERGY", "volume": float(kwh)}, {"type": "TIME", "volume": float(hours)}]
            energy, time_h = energy + kwh, time_h + hours
        else:
            dimensions = [{"type": "PARKING_TIME", "volume": float(hours)}]
            parking_h += hours
        periods.append({"start_date_time": moment.strftime(fmt), "dimensions": dimensions, "tariff_id": tariff["id"]})
        moment += timedelta(minutes=minutes)
    cdr: dict[str, Any] = {
        "country_code": party[0], "party_id": party[1], "id": f"BILL-CDR-{n:08d}",
        "start_date_time": start.strftime(fmt), "end_date_time": moment.strftime(fmt), "session_id": f"BILL-S-{n:08d}",
        "cdr_token": {"country_code": "NL", "party_id": "EMS", "uid": card[0], "type": "RFID", "contract_id": card[1]},
        "auth_method": "AUTH_REQUEST",
        "cdr_location": {
            "id": location, "address": "Benchstraat 1", "city": "Utrecht", "country": "NLD",
            "coordinates": {"latitude": "52.090737", "longitude": "5.121420"}, "evse_uid": "1", "evse_id": "NL*BIG*E1",
            "connector_id": "1", "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR", "tariffs": [tariff], "charging_periods": periods,
        "total_energy": float(energy), "total_time": float(time_h + parking_h), "total_parking_time": float(parking_h),
        "last_updated": moment.strftime(fmt),
    }  # fmt: skip
    ours = price_cdr(cdr_from_ocpi(json.loads(json.dumps(cdr))), time_zone=ZONE)
    cdr["total_cost"] = {"excl_vat": float(ours.total.excl_vat), "incl_vat": float(ours.total.incl_vat or 0)}
    return cdr


def _drivers_cards(count: int) -> list[tuple[str, str]]:
    """One RFID card for each of `count` bench drivers: (uid, contract_id). Each priced CDR is charged to its
    driver and refreshes that driver's balance, a sum over their uninvoiced charges: spread over drivers as in
    life (one driver with the whole backlog would make every batch sum up to 100,000 charges)."""
    from django.contrib.auth import get_user_model

    from drivers.models import Token
    from drivers.services import driver_create, token_issue

    for n in range(count):
        user, _ = get_user_model().objects.get_or_create(username=f"bench-billing-{n}")
        driver = getattr(user, "driver", None) or driver_create(user=user)
        if not driver.tokens.exists():
            token_issue(driver=driver, uid=f"BILL{n:06d}")
    uids = [f"BILL{n:06d}" for n in range(count)]
    return list(Token.objects.filter(uid__in=uids).order_by("uid").values_list("uid", "contract_id"))


def _store_distinct(count: int) -> list[int]:
    """`count` distinct realistic CDRs stored through the CDR service (as a POST stores them)."""
    from roaming.models import Location, Partner
    from roaming.ocpi.v2_2_1 import CDR
    from roaming.ocpi.v2_2_1.mapping import cdr_data
    from roaming.ocpi.v2_2_1.types import loads
    from roaming.services.cdrs import cdr_store

    rng = random.Random(14)
    cards = _drivers_cards(count)
    locations = list(Location.objects.values_list("partner_id", "country_code", "party_id", "ocpi_id")[:200])
    Location.objects.filter(ocpi_id__in=[loc[3] for loc in locations]).update(time_zone=ZONE)
    partner = Partner.objects.get(pk=locations[0][0])
    pks = []
    for n in range(count):
        _, country_code, party_id, location_id = locations[n % len(locations)]
        raw = loads(json.dumps(realistic_cdr(rng, n, (country_code, party_id), cards[n % len(cards)], location_id)))
        pks.append(cdr_store(partner=partner, cdr=cdr_data(CDR.model_validate(raw), raw)).pk)
    return pks


def _copy_cdrs(sources: list[int], copies: int) -> None:
    """`copies` copies of each source CDR under new ids, in one statement, each with the PENDING price that
    storing it writes (by COPY)."""
    from django.db import connection

    from billing.models import CdrPrice
    from emsp.lib.bulkupsert import bulk_insert
    from roaming.models import Cdr

    columns = [f.column for f in Cdr._meta.concrete_fields if not f.primary_key]
    select = ", ".join("c.ocpi_id || '-' || n" if c == "ocpi_id" else f"c.{c}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Cdr._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {select} FROM {Cdr._meta.db_table} c, generate_series(1, %s) n WHERE c.id = ANY(%s)",
            [copies, sources],
        )
    copied = Cdr.objects.filter(price__isnull=True).values_list("pk", flat=True)
    bulk_insert(CdrPrice, [CdrPrice(cdr_id=pk, status=CdrPrice.Status.PENDING) for pk in copied])


def wait_priced(expected: int, *, timeout: float) -> float:
    """Seconds until `expected` CDRs have been priced (PENDING no more)."""
    from billing.models import CdrPrice

    began = time.monotonic()
    while (done := CdrPrice.objects.exclude(status=CdrPrice.Status.PENDING).count()) < expected:
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{done} of {expected} CDRs priced after {timeout:.0f} s")
        time.sleep(0.5)
    return time.monotonic() - began


def bench_backlog(*, count: int, workers: int = 2) -> dict[str, Any]:
    """Store `count` CDRs with no price, then let the Celery worker's `workers` processes drain them through the
    task (the worker runs already: bench/__main__.py)."""
    from billing.models import CdrPrice, Dispute, RetailPlan
    from billing.tasks import BATCH_SIZE, MAX_BATCHES, price_cdrs_task
    from roaming.models import Cdr

    # Every priced CDR is also charged to its driver (billing.charges), on the default plan.
    RetailPlan.objects.get_or_create(
        is_default=True,
        defaults={"name": "Bench pay as you go", "markup_percent": Decimal("15"), "session_fee": Decimal("0.35")},
    )
    distinct = 250
    sources = _store_distinct(distinct)
    wait_priced(distinct, timeout=300)  # the originals were queued as they were stored (the worker is running)
    _copy_cdrs(sources, -(-(count - distinct) // distinct))
    already = CdrPrice.objects.exclude(status=CdrPrice.Status.PENDING).count()
    total = Cdr.objects.count()
    began = time.monotonic()
    # Each run drains up to BATCH_SIZE * MAX_BATCHES; the workers take the runs at once and share the backlog
    # (SKIP LOCKED), as the per-minute runs of a real backlog would.
    for _ in range(-(-(total - already) // (BATCH_SIZE * MAX_BATCHES)) + workers):
        price_cdrs_task.apply_async()
    wait_priced(total, timeout=600)
    seconds = time.monotonic() - began
    return {
        "cdrs": total - already,
        "seconds": round(seconds, 1),
        "rps": round((total - already) / seconds),
        "priced": CdrPrice.objects.filter(status=CdrPrice.Status.PRICED).count(),
        "disputes": Dispute.objects.count(),
        "workers": workers,
    }
