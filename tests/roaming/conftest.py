"""Fixtures for the OCPI side: registered partners and a client that speaks to our endpoints as they do."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from roaming.models import (
    ChargingSession,
    CredentialsToken,
    Evse,
    Location,
    Partner,
    PartnerRole,
    hash_token,
    new_token,
)


@dataclass
class Reply:
    http_status: int
    body: dict[str, Any]
    headers: Any

    @property
    def status_code(self) -> int:
        return int(self.body["status_code"])

    @property
    def data(self) -> Any:
        return self.body.get("data")


class OcpiTestClient:
    """Calls our OCPI endpoints with a partner's token, the way a CPO platform would."""

    def __init__(self, client: Client, token: str, *, raw: bool = False) -> None:
        self.client = client
        value = token if raw else base64.b64encode(token.encode()).decode()
        self.headers = {"Authorization": f"Token {value}"}

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> Reply:
        data = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        response = self.client.generic(
            method, path, data=data or "", content_type="application/json", headers={**self.headers, **(headers or {})}
        )
        return Reply(response.status_code, json.loads(response.content), response.headers)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.call("PUT", path, body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.call("PATCH", path, body, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> Reply:
        return self.call("POST", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.call("DELETE", path, **kwargs)


def registered_partner(name: str, parties: list[tuple[str, str]]) -> tuple[Partner, str]:
    partner = Partner.objects.create(
        name=name,
        status=Partner.Status.REGISTERED,
        version="2.2.1",
        versions_url=f"https://{name.lower().replace(' ', '-')}.example.com/versions",
    )
    for country_code, party_id in parties:
        PartnerRole.objects.create(
            partner=partner, role="CPO", country_code=country_code, party_id=party_id, business_name=name
        )
    token = new_token()
    CredentialsToken.objects.create(
        partner=partner, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(token)
    )
    return partner, token


@pytest.fixture
def cpo(db: None) -> tuple[Partner, str]:
    """A registered CPO hosting the parties of the official examples (BE/BEC and DE/ALL)."""
    return registered_partner("Example CPO", [("BE", "BEC"), ("DE", "ALL")])


@pytest.fixture
def ocpi(client: Client, cpo: tuple[Partner, str]) -> OcpiTestClient:
    return OcpiTestClient(client, cpo[1])


def running_session(
    partner: Partner,
    party: tuple[str, str],
    *,
    session_id: str = "S-42",
    location_id: str = "LOC9",
    evse_uid: str = "E1",
    capabilities: list[str] | None = None,
    status: str = "ACTIVE",
) -> ChargingSession:
    """A session of `party` at EVSE E1 of a location we hold (E1 with `capabilities`), written straight to the
    database; `evse_uid` other than E1 is an EVSE we don't hold."""
    now = timezone.now()
    location = Location.objects.create(
        partner=partner, country_code=party[0], party_id=party[1], ocpi_id=location_id, address="Street 1",
        city="Gent", country="BEL", latitude=Decimal("51.05"), longitude=Decimal("3.72"), last_updated=now,
    )  # fmt: skip
    Evse.objects.create(location=location, uid="E1", capabilities=capabilities or [], last_updated=now)
    return ChargingSession.objects.create(
        partner=partner, country_code=party[0], party_id=party[1], ocpi_id=session_id, status=status,
        start_date_time=now, kwh=Decimal("3.2"), auth_method="COMMAND", ocpi_location_id=location_id,
        evse_uid=evse_uid, connector_id="1", currency="EUR", token_uid="04A1B2C3", token_type="RFID",
        contract_id="NL-EMS-C00000001-X", location=location, last_updated=now,
    )  # fmt: skip
