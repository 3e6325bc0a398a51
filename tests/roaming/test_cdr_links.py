"""A new CDR's links (`roaming.services.cdrs._PARTY_LINKS` and the token rule), by both executions on one table
of cases.

The links are stated once; the portable path looks them up through the ORM before its INSERT
(`_store_in_steps`), PostgreSQL writes them into the INSERT itself (`_insert_linked`). Both must link the same
rows. The statement runs on PostgreSQL only (DATABASE_URL); the ORM path runs on both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from drivers.models import Token
from drivers.services import driver_create, token_issue
from roaming.models import Cdr, ChargingSession, Partner
from roaming.ocpi.v2_2_1 import CDR
from roaming.ocpi.v2_2_1.mapping import cdr_data
from roaming.ocpi.v2_2_1.types import loads
from roaming.records import CdrData
from roaming.services.cdrs import StoredCdr, _insert_linked, _store_in_steps
from tests.examples import example
from tests.roaming.conftest import registered_partner, running_session

pytestmark = pytest.mark.django_db

OURS = {"country_code": "NL", "party_id": "EMS"}  # our party in the test settings
UID = "04A1B2C3"


@dataclass(frozen=True)
class Case:
    changes: dict[str, Any]  # to the official CDR example (BE/BEC, at location LOC1)
    # What the CDR links to: the token's uid (with its driver), the session's, location's and credited CDR's ids.
    token: str | None
    session: str | None = "S1"
    location: str | None = "LOC1"
    credit_for: str | None = None


def _token(uid: str = UID, type: str = "RFID", **party: str) -> dict[str, Any]:
    return {"cdr_token": {**(party or OURS), "uid": uid, "type": type, "contract_id": "NL-EMS-C00000001-X"}}


CASES = {
    "our token": Case(_token(), UID),
    "our token, uid in another case": Case(_token(UID.lower()), UID),
    "our uid under another party": Case(_token(country_code="DE", party_id="TNM"), None),
    "our uid, another type": Case(_token(type="APP_USER"), None),
    "unknown token": Case(_token("FFFF0000"), None),
    "session we don't hold": Case({**_token(), "session_id": "S9"}, UID, session=None),
    "no session": Case({**_token(), "session_id": None}, UID, session=None),
    "another party's session": Case({**_token(), "session_id": "S2"}, UID, session=None),
    "location we don't hold": Case({**_token(), "cdr_location": "LOC9"}, UID, location=None),
    "credit CDR": Case({**_token(), "credit": True, "credit_reference_id": "ORIG"}, UID, credit_for="ORIG"),
    "credit CDR of one we don't hold": Case({**_token(), "credit": True, "credit_reference_id": "NOPE"}, UID),
    "credit reference without credit": Case({**_token(), "credit": False, "credit_reference_id": "ORIG"}, UID),
}

EXECUTIONS: dict[str, Callable[[Partner, CdrData], StoredCdr]] = {
    "statement": _insert_linked,
    "orm": _store_in_steps,
}


def _data(number: int, changes: dict[str, Any]) -> CdrData:
    body = {**example("cdrs/cdr_example.json"), "id": f"CDR{number}", "session_id": "S1"}
    location_id = changes.pop("cdr_location", None) if "cdr_location" in changes else None
    body.update(changes)
    if location_id:
        body["cdr_location"] = {**body["cdr_location"], "id": location_id}
    body = {key: value for key, value in body.items() if value is not None}
    raw = loads(json.dumps(body))
    return cdr_data(CDR.model_validate(raw), raw)


def _pairs() -> list[Any]:
    pairs: list[Any] = []
    for name in EXECUTIONS:
        skip = pytest.mark.skipif(
            name == "statement" and connection.vendor != "postgresql", reason="the PostgreSQL statement"
        )
        pairs += [pytest.param(name, case, marks=[skip], id=f"{name}: {case}") for case in CASES]
    return pairs


@pytest.fixture
def partner(db: None) -> Partner:
    partner = registered_partner("Links CPO", [("BE", "BEC"), ("DE", "ALL")])[0]
    running_session(partner, ("BE", "BEC"), session_id="S1", location_id="LOC1")
    ChargingSession.objects.create(
        **{
            f.attname: getattr(ChargingSession.objects.get(ocpi_id="S1"), f.attname)
            for f in ChargingSession._meta.concrete_fields
            if f.attname not in ("id", "location_id")
        }
        | {"country_code": "DE", "party_id": "ALL", "ocpi_id": "S2"}
    )
    _store_in_steps(partner, _data(0, {"id": "ORIG"}))
    return partner


@pytest.fixture
def token(db: None) -> Token:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    return token_issue(driver=driver, uid=UID)


@pytest.mark.parametrize(("execution", "case_name"), _pairs())
def test_both_executions_link_the_same_rows(partner: Partner, token: Token, execution: str, case_name: str) -> None:
    case = CASES[case_name]
    stored = EXECUTIONS[execution](partner, _data(1, dict(case.changes)))

    cdr = Cdr.objects.select_related("token", "session", "location", "credit_for").get(pk=stored.pk)
    assert stored.created
    assert (cdr.token.uid if cdr.token else None, cdr.driver_id) == (
        case.token,
        token.driver_id if case.token else None,
    )
    assert cdr.unknown_token is (case.token is None) is not stored.token_known
    assert (cdr.session.ocpi_id if cdr.session else None) == case.session
    assert (cdr.location.ocpi_id if cdr.location else None) == case.location
    assert (cdr.credit_for.ocpi_id if cdr.credit_for else None) == case.credit_for
    assert stored.credit_for_pk == cdr.credit_for_id
