"""Rows for billing tests, written straight through the ORM: drivers, stored CDRs, charges and invoices.

Tests of the OCPI path post CDRs over HTTP (see conftest); these are for tests of what comes after a CDR is
stored (retail prices, invoices, collection), which need many realistic rows quickly.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import Invoice, RetailPlan, SessionCharge
from drivers.models import Driver, Token
from drivers.services import driver_create, token_issue
from roaming.models import Cdr, Partner

_serial = itertools.count(1)


def a_driver(name: str = "Ann Smit", *, country: str = "NL", language: str = "en", **fields: Any) -> Driver:
    """A driver with a user (first and last name, email) and one active RFID token."""
    n = next(_serial)
    first, _, last = name.partition(" ")
    user = get_user_model().objects.create_user(
        f"driver{n}", f"driver{n}@example.com", "pw", first_name=first, last_name=last
    )
    driver = driver_create(user=user, language=language)
    Driver.objects.filter(pk=driver.pk).update(
        country=country, street="Damrak 1", postal_code="1012 LG", city="Amsterdam", **fields
    )
    driver.refresh_from_db()
    token = token_issue(driver=driver, uid=f"04{n:08X}")
    Token.objects.filter(pk=token.pk).update(status=Token.Status.ACTIVE)
    return driver


def a_partner(name: str = "CPO One") -> Partner:
    return Partner.objects.create(name=name, versions_url="https://cpo.example.com/versions")


def a_cdr(
    partner: Partner,
    driver: Driver | None,
    *,
    start: datetime | None = None,
    hours: str = "1.5",
    energy: str = "22.5",
    total_cost: str = "9.00",
    currency: str = "EUR",
    **fields: Any,
) -> Cdr:
    """A stored CDR of `driver` (its first token), as the CDR receiver would have written it."""
    n = next(_serial)
    start = start or timezone.now() - timedelta(days=1)
    end = start + timedelta(hours=float(hours))
    token = driver.tokens.first() if driver else None
    values: dict[str, Any] = {
        "partner": partner,
        "country_code": "NL",
        "party_id": "CPO",
        "ocpi_id": f"CDR{n:06d}",
        "start_date_time": start,
        "end_date_time": end,
        "token_uid": token.uid if token else f"UNKNOWN{n}",
        "token_type": "RFID",
        "contract_id": token.contract_id if token else "",
        "token": token,
        "driver": driver,
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "LOC1",
            "name": "Central Garage",
            "address": "Stationsplein 1",
            "city": "Amsterdam",
            "country": "NLD",
            "evse_uid": "E1",
            "connector_id": "1",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": currency,
        "total_cost_excl_vat": Decimal(total_cost),
        "total_energy": Decimal(energy),
        "total_time": Decimal(hours),
        "charging_periods": [],
        "raw": {},
        "content_hash": f"{n:040d}",
        "last_updated": end,
    }
    values.update(fields)
    return Cdr.objects.create(**values)


def a_plan(name: str = "Pay as you go", **fields: Any) -> RetailPlan:
    return RetailPlan.objects.create(name=name, **fields)


def a_charge(cdr: Cdr, plan: RetailPlan, amount: str = "10.00", vat_rate: str = "21", **fields: Any) -> SessionCharge:
    """The retail charge of a stored CDR, as retail pricing would have written it."""
    assert cdr.driver is not None
    values: dict[str, Any] = {
        "cdr": cdr,
        "driver": cdr.driver,
        "plan": plan,
        "currency": cdr.currency,
        "session_start": cdr.start_date_time,
        "session_end": cdr.end_date_time,
        "location": "Central Garage, Stationsplein 1, Amsterdam",
        "country": "NLD",
        "energy_kwh": cdr.total_energy,
        "charging_hours": cdr.total_time,
        "amount_excl_vat": Decimal(amount),
        "vat_rate": Decimal(vat_rate),
    }
    values.update(fields)
    return SessionCharge.objects.create(**values)


def an_invoice(driver: Driver, total_incl_vat: str, *, period: date | None = None, **fields: Any) -> Invoice:
    """An issued invoice with only its totals (no lines): for tests of collection and balances."""
    n = next(_serial)
    total = Decimal(total_incl_vat)
    vat = (total - total / Decimal("1.21")).quantize(Decimal("0.01"))
    today = timezone.localdate()
    values: dict[str, Any] = {
        "number": f"TEST-{n:06d}",
        "driver": driver,
        "period": period,
        "issued_at": timezone.now(),
        "issue_date": today,
        "due_date": today + timedelta(days=14),
        "currency": driver.currency,
        "language": driver.language,
        "customer_name": str(driver),
        "customer_address": "Damrak 1\n1012 LG Amsterdam",
        "customer_country": driver.country,
        "total_excl_vat": total - vat,
        "total_vat": vat,
        "total_incl_vat": total,
        "vat_summary": [{"rate": "21", "taxable": str(total - vat), "vat": str(vat)}],
    }
    values.update(fields)
    return Invoice.objects.create(**values)
