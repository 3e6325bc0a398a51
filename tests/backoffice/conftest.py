"""Rows for the back office's tests: partners with their traffic, sessions, prices and disputes of today."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from backoffice import selectors
from billing.models import CdrPrice, Dispute
from drivers.models import Driver, TokenChange
from roaming.models import (
    Authorization,
    ChargingSession,
    Command,
    OcpiRequestLog,
    Partner,
    SyncRun,
    TokenPushCursor,
)
from tests.billing.factories import a_cdr, a_charge, a_driver, a_partner, a_plan

_serial = itertools.count(1)


def a_session(partner: Partner, driver: Driver, *, start: datetime, kwh: str, status: str = "COMPLETED") -> Any:
    n = next(_serial)
    token = driver.tokens.get()
    return ChargingSession.objects.create(
        partner=partner, country_code="NL", party_id="CPO", ocpi_id=f"S{n}", status=status, start_date_time=start,
        end_date_time=start + timedelta(hours=1), kwh=Decimal(kwh), auth_method="AUTH_REQUEST",
        ocpi_location_id="LOC1", evse_uid="E1", connector_id="1", currency="EUR", token_uid=token.uid,
        token_type="RFID", contract_id=token.contract_id, token=token, driver=driver, last_updated=start,
    )  # fmt: skip


def a_log(partner: Partner, at: datetime, *, http: int | None = 200, ocpi: int | None = 1000, error: str = "") -> Any:
    return OcpiRequestLog.objects.create(
        created_at=at, direction="in", partner=partner, module="locations", method="PATCH", url="/ocpi/x",
        http_status=http, ocpi_status=ocpi, error=error,
    )  # fmt: skip


def a_run(partner: Partner, module: str, status: str, at: datetime, error: str = "") -> SyncRun:
    run = SyncRun.objects.create(partner=partner, module=module, mode="incremental", status=status, error=error)
    SyncRun.objects.filter(pk=run.pk).update(started_at=at - timedelta(seconds=5), finished_at=at)
    return run


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def today_start(now: datetime) -> datetime:
    return selectors.day_bounds(timezone.localdate(now))[0]


@pytest.fixture
def business(now: datetime, today_start: datetime) -> dict[str, Any]:
    """Two CPOs; today two sessions (7.5 + 12.25 kWh), one of them priced (charge 10.00 EUR, CPO price 8.00 EUR);
    yesterday one session (30 kWh, charge 20.00 EUR); an open dispute of 2.50 EUR, a decided one of 9.00 EUR."""
    today = today_start + (now - today_start) / 2  # between midnight and now, whenever the test runs
    yesterday = today_start - timedelta(hours=3)
    ionity, fastned = a_partner("Ionity"), a_partner("Fastned")
    Partner.objects.update(status=Partner.Status.REGISTERED)
    ann, bob = a_driver("Ann Smit"), a_driver("Bob de Vries")
    plan = a_plan()
    a_session(ionity, ann, start=today, kwh="7.5")
    a_session(fastned, bob, start=today, kwh="12.25", status="ACTIVE")
    a_session(ionity, ann, start=yesterday, kwh="30")
    cdr_today = a_cdr(ionity, ann, start=today, total_cost="8.00")
    CdrPrice.objects.create(cdr=cdr_today, status="PRICED", currency="EUR", total_excl_vat=Decimal("8.00"))
    a_charge(cdr_today, plan, amount="10.00")
    cdr_yesterday = a_cdr(ionity, ann, start=yesterday, total_cost="18.00")
    a_charge(cdr_yesterday, plan, amount="20.00")
    Dispute.objects.create(
        cdr=cdr_today, partner=ionity, currency="EUR", amount_at_stake=Decimal("2.50"), opened_at=now
    )
    Dispute.objects.create(
        cdr=cdr_yesterday, partner=ionity, currency="EUR", amount_at_stake=Decimal("9.00"), opened_at=now,
        status=Dispute.Status.CPO_ACCEPTED,
    )  # fmt: skip
    # Ionity's last 24 hours: 4 requests, 1 failed (OCPI 2001); an older failure outside the window.
    for _ in range(3):
        a_log(ionity, now - timedelta(hours=1))
    failed = a_log(ionity, now - timedelta(minutes=30), ocpi=2001, error="Unknown location")
    a_log(ionity, now - timedelta(hours=30), http=500, ocpi=None, error="old")
    # Fastned: 2 requests, both failed (no answer; HTTP 502).
    a_log(fastned, now - timedelta(hours=2), http=None, ocpi=None, error="ReadTimeout")
    a_log(fastned, now - timedelta(hours=3), http=502, ocpi=None)
    a_run(ionity, "locations", "succeeded", now - timedelta(minutes=20))
    a_run(ionity, "cdrs", "succeeded", now - timedelta(hours=5))
    a_run(ionity, "cdrs", "failed", now - timedelta(hours=1), error="GET page 2: ReadTimeout")
    TokenPushCursor.objects.create(partner=ionity, last_change_id=0, failures=2, last_error="PUT: HTTP 503")
    TokenPushCursor.objects.create(
        partner=fastned, last_change_id=TokenChange.objects.order_by("-pk").values_list("pk", flat=True)[0]
    )
    token = ann.tokens.get()
    for allowed in ("ALLOWED", "BLOCKED", "NOT_ALLOWED"):
        Authorization.objects.create(partner=ionity, token=token, allowed=allowed)
    Command.objects.create(partner=fastned, type="STOP_SESSION", token=token, state="DONE", result="TIMEOUT")
    Command.objects.create(partner=fastned, type="STOP_SESSION", token=token, state="DONE", result="ACCEPTED")
    return {"ionity": ionity, "fastned": fastned, "failed_log": failed, "changes": TokenChange.objects.count()}
