"""Fixtures for pricing and reconciliation: a CPO (BE/BEC), its tariff and CDRs built to a known price."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.test import Client

from drivers.models import Token
from drivers.services import driver_create, token_issue
from roaming.models import Partner
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient, Reply, cpo  # noqa: F401 - cpo is a fixture used here

CDRS_URL = "/ocpi/2.2.1/cdrs"

#: 0.25/kWh and 2.00/h, 10 % VAT, step 1: a CDR of 10 kWh in 1 hour costs 4.50 excl., 4.95 incl.
TARIFF: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "T12",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1},
                {"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 1},
            ]
        }
    ],
    "last_updated": "2026-11-01T00:00:00Z",
}

#: Cheaper energy at night (22:00-06:00 local): 0.20/kWh; otherwise 0.30/kWh. No VAT given.
NIGHT_TARIFF: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "NIGHT",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "06:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.30, "step_size": 1}]},
    ],
    "last_updated": "2026-11-01T00:00:00Z",
}


def tariff_url(body: dict[str, Any]) -> str:
    return f"/ocpi/2.2.1/tariffs/{body['country_code']}/{body['party_id']}/{body['id']}"


def location_body(location_id: str = "LOC1", time_zone: str = "Europe/Brussels") -> dict[str, Any]:
    body = example("locations/location_example.json")
    body.update(id=location_id, time_zone=time_zone)
    return body


def cdr_body(
    cdr_id: str = "CDR-1",
    *,
    tariff_id: str = "T12",
    own_tariff: dict[str, Any] | None = None,
    kwh: str = "10",
    hours: str = "1",
    start: str = "2026-11-10T10:00:00Z",
    end: str = "2026-11-10T11:00:00Z",
    total: tuple[str, str | None] = ("4.50", "4.95"),
    costs: dict[str, tuple[str, str | None]] | None = None,
    location_id: str = "LOC1",
    token_uid: str = "04A1B2C3",
    **changes: Any,
) -> dict[str, Any]:
    """A CDR of one period; by default priced by TARIFF at 4.50 / 4.95 and consistent with its totals."""
    body = copy.deepcopy(example("cdrs/cdr_example.json"))
    body.pop("total_time_cost", None)
    body.pop("tariffs", None)
    body.update(
        id=cdr_id,
        start_date_time=start,
        end_date_time=end,
        cdr_token={
            "country_code": "NL",
            "party_id": "EMS",
            "uid": token_uid,
            "type": "RFID",
            "contract_id": "NL-EMS-C00000001-X",
        },
        charging_periods=[
            {
                "start_date_time": start,
                "dimensions": [{"type": "ENERGY", "volume": float(kwh)}, {"type": "TIME", "volume": float(hours)}],
                "tariff_id": tariff_id,
            }
        ],
        total_cost=_price(total),
        total_energy=float(kwh),
        total_time=float(hours),
        last_updated=end,
    )
    body["cdr_location"]["id"] = location_id
    if own_tariff is not None:
        body["tariffs"] = [own_tariff]
    for key, value in (costs or {}).items():
        body[f"total_{key}_cost"] = _price(value)
    body.update(changes)
    return body


def _price(value: tuple[str, str | None]) -> dict[str, Any]:
    excl, incl = value
    return {"excl_vat": float(Decimal(excl))} | ({"incl_vat": float(Decimal(incl))} if incl is not None else {})


class CommittingOcpiClient(OcpiTestClient):
    """Each request ends as if committed: the tasks it enqueues (pricing) run then, inline."""

    def __init__(self, client: Client, token: str, capture: Any) -> None:
        super().__init__(client, token)
        self.capture = capture

    def call(self, *args: Any, **kwargs: Any) -> Reply:
        with self.capture(execute=True):
            return super().call(*args, **kwargs)


@pytest.fixture
def ocpi(client: Client, cpo: tuple[Partner, str], django_capture_on_commit_callbacks: Any) -> OcpiTestClient:  # noqa: F811
    return CommittingOcpiClient(client, cpo[1], django_capture_on_commit_callbacks)


@pytest.fixture
def our_token(db: None) -> Token:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    return token_issue(driver=driver, uid="04A1B2C3")


@pytest.fixture
def staff(db: None) -> User:
    return get_user_model().objects.create_superuser("finance", "finance@example.com", "pw")


@pytest.fixture
def held_tariff(ocpi: OcpiTestClient) -> dict[str, Any]:
    reply = ocpi.put(tariff_url(TARIFF), TARIFF)
    assert reply.status_code == 1000, reply.body
    return TARIFF


def post_cdr(ocpi: OcpiTestClient, body: dict[str, Any]) -> None:
    reply = ocpi.post(CDRS_URL, body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
