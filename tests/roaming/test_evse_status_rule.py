"""The EVSE status rule (`roaming.services.evse_status`), run by every execution on one table of cases.

The rule is stated once; the status PATCH runs it as one PostgreSQL statement or through the ORM, the EVSE
PATCH through the ORM, and the EVSE PUT (the bulk write of locations and EVSEs) decides it on the rows it read
under lock. Every execution must leave the same rows: the EVSE's status, last_updated and removed_at, and its
history. The statement runs on PostgreSQL only (DATABASE_URL); the other executions run on both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q

from emsp.lib.conditions import holds
from roaming.models import Evse, EvseStatusChange, Location, Partner
from roaming.records import EvseData
from roaming.services.common import StaleUpdate, UnknownObject
from roaming.services.evse_status import StatusUpdate
from roaming.services.locations import (
    _apply_status_in_one_statement,
    _apply_status_with_orm,
    evse_patch,
    evse_put,
)
from tests.roaming.conftest import registered_partner

pytestmark = pytest.mark.django_db

PARTY = ("BE", "BEC")
T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REMOVED_BEFORE = T - timedelta(hours=1)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Case:
    uid: str  # E1: AVAILABLE at T; E2: REMOVED at T since REMOVED_BEFORE; E9: unknown
    status: str
    last_updated: datetime
    applied: bool
    # What is stored afterwards: status, last_updated, removed_at, and the history rows (status, changed_at).
    stored: tuple[str, datetime, datetime | None]
    history: tuple[tuple[str, datetime], ...] = ()


CASES = {
    "older, other status": Case("E1", "CHARGING", T - SECOND, False, ("AVAILABLE", T, None)),
    "older, same status": Case("E1", "AVAILABLE", T - SECOND, False, ("AVAILABLE", T, None)),
    "equal, other status": Case("E1", "CHARGING", T, True, ("CHARGING", T, None), (("CHARGING", T),)),
    "equal, same status": Case("E1", "AVAILABLE", T, True, ("AVAILABLE", T, None)),
    "newer, other status": Case(
        "E1", "CHARGING", T + SECOND, True, ("CHARGING", T + SECOND, None), (("CHARGING", T + SECOND),)
    ),
    "newer, same status": Case("E1", "AVAILABLE", T + SECOND, True, ("AVAILABLE", T + SECOND, None)),
    "REMOVED": Case("E1", "REMOVED", T + SECOND, True, ("REMOVED", T + SECOND, T + SECOND), (("REMOVED", T + SECOND),)),
    "REMOVED, older": Case("E1", "REMOVED", T - SECOND, False, ("AVAILABLE", T, None)),
    "REMOVED again keeps its date": Case("E2", "REMOVED", T + SECOND, True, ("REMOVED", T + SECOND, REMOVED_BEFORE)),
    "unknown EVSE": Case("E9", "CHARGING", T + SECOND, False, ("", T, None)),
}

# An execution applies one case and answers whether it was applied (None: the EVSE is unknown).
Execution = Callable[[Location, Case], "bool | None"]


def _statement(location: Location, case: Case) -> bool | None:
    pk, applied = _apply_status_in_one_statement(*PARTY, location.ocpi_id, case.uid, _update(case))
    return None if pk is None else applied


def _orm(location: Location, case: Case) -> bool | None:
    pk, applied = _apply_status_with_orm(*PARTY, location.ocpi_id, case.uid, _update(case))
    return None if pk is None else applied


def _evse_patch(location: Location, case: Case) -> bool | None:
    try:
        evse_patch(
            party=PARTY,
            location_id=location.ocpi_id,
            evse_uid=case.uid,
            changes={"status": case.status},
            last_updated=case.last_updated,
        )
    except StaleUpdate:
        return False
    except UnknownObject:
        return None
    return True


def _evse_put(location: Location, case: Case) -> bool | None:
    fields = {"evse_id": "", "status": case.status, "capabilities": [], "last_updated": case.last_updated}
    try:
        evse_put(party=PARTY, location_id=location.ocpi_id, evse=EvseData(uid=case.uid, fields=fields))
    except StaleUpdate:
        return False
    return True


def _update(case: Case) -> StatusUpdate:
    return StatusUpdate(case.status, case.last_updated)


EXECUTIONS: dict[str, Execution] = {
    "statement": _statement,
    "orm": _orm,
    "evse_patch": _evse_patch,
    "evse_put": _evse_put,
}
STATUS_PATCH = ("statement", "orm")  # REMOVED is not theirs: evse_status_patch hands it to evse_patch


def _pairs() -> list[Any]:
    pairs: list[Any] = []
    for name in EXECUTIONS:
        marks = []
        if name == "statement":
            marks.append(pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL statement"))
        for case in CASES:
            if name in STATUS_PATCH and CASES[case].status == "REMOVED":
                continue
            pairs.append(pytest.param(name, case, marks=marks, id=f"{name}: {case}"))
    return pairs


@pytest.fixture
def location(db: None) -> Location:
    partner: Partner = registered_partner("Rule CPO", [PARTY])[0]
    location = Location.objects.create(
        partner=partner, country_code=PARTY[0], party_id=PARTY[1], ocpi_id="LOC1", address="Street 1", city="Gent",
        country="BEL", latitude=Decimal("51.05"), longitude=Decimal("3.72"), last_updated=T,
    )  # fmt: skip
    Evse.objects.create(location=location, uid="E1", status="AVAILABLE", last_updated=T)
    Evse.objects.create(location=location, uid="E2", status="REMOVED", last_updated=T, removed_at=REMOVED_BEFORE)
    return location


@pytest.mark.parametrize(("execution", "case_name"), _pairs())
def test_every_execution_leaves_the_same_rows(location: Location, execution: str, case_name: str) -> None:
    case = CASES[case_name]
    applied = EXECUTIONS[execution](location, case)

    evse = Evse.objects.filter(location=location, uid=case.uid).first()
    history = list(EvseStatusChange.objects.filter(evse__uid=case.uid).values_list("status", "changed_at"))
    if case.uid == "E9" and execution == "evse_put":  # a PUT creates the EVSE; its first status is history
        assert applied is True
        assert evse is not None
        assert (evse.status, evse.last_updated, evse.removed_at) == (case.status, case.last_updated, None)
        assert history == [(case.status, case.last_updated)]
        return
    if case.uid == "E9":
        assert applied is None
        assert evse is None
        assert history == []
        return
    assert applied is case.applied
    assert evse is not None
    assert (evse.status, evse.last_updated, evse.removed_at) == case.stored
    assert history == list(case.history)


def test_the_bulk_decision_is_the_databases(location: Location) -> None:
    """`holds` decides the rule's Q objects on rows in hand as the database does on the stored rows."""
    rows = {
        row["uid"]: row
        for row in Evse.objects.filter(location=location).values("uid", "status", "last_updated", "removed_at")
    }
    conditions = [
        Q(removed_at__isnull=True),
        ~Q(removed_at__isnull=True) | Q(status="AVAILABLE"),
        Q(removed_at__lte=T),  # NULL compares as nothing
        ~Q(removed_at__lte=T),
        Q(status__in=["REMOVED", "CHARGING"]),
    ]
    for case in CASES.values():
        update = _update(case)
        conditions += [update.applies(), update.history_due(), ~update.applies()]
    for condition in conditions:
        for uid, row in rows.items():
            in_database = Evse.objects.filter(location=location, uid=uid).filter(condition).exists()
            assert holds(condition, row) is in_database, (condition, uid)
