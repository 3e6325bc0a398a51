"""Writing what CPOs tell us about their locations: pushes (PUT/PATCH) and pull-sync pages alike.

One rule everywhere: an update older than what we hold (`last_updated`) is not applied, and an object
whose content did not change is not rewritten. `locations_upsert` is the single write path for whole
locations, whether one arrives by PUT or a thousand by a sync page; it runs in one transaction. Every write of
an EVSE follows the status rule stated once in `evse_status`: the bulk writes, the EVSE PATCH and the status
PATCH (one PostgreSQL statement).
"""

from __future__ import annotations

import logging
from collections.abc import Set as AbstractSet
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from emsp.lib.bulkupsert import any_of, bulk_insert_rows, bulk_upsert
from emsp.lib.prepared import PreparedQuery
from roaming.models import Connector, Evse, EvseStatus, EvseStatusChange, Location, Partner
from roaming.records import ConnectorData, EvseData, LocationData
from roaming.signals import locations_stored

from .cdrs import cdrs_link_locations
from .common import Party, StaleUpdate, UnknownObject, UpsertResult, column, rows_by, upsert_objects
from .evse_status import StatusUpdate

logger = logging.getLogger(__name__)


_LOCATION_FIELDS = (
    "publish",
    "name",
    "address",
    "city",
    "postal_code",
    "state",
    "country",
    "latitude",
    "longitude",
    "parking_type",
    "time_zone",
    "operator_name",
    "facilities",
    "opening_times",
    "charging_when_closed",
    "extra",
    "last_updated",
)
_EVSE_FIELDS = (
    "evse_id",
    "status",
    "capabilities",
    "floor_level",
    "physical_reference",
    "latitude",
    "longitude",
    "parking_restrictions",
    "extra",
    "last_updated",
)
_CONNECTOR_FIELDS = (
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_electric_power",
    "tariff_ids",
    "terms_and_conditions",
    "extra",
    "last_updated",
)


# --- whole locations ----------------------------------------------------------------------------------


def locations_upsert(*, partner: Partner, items: list[LocationData]) -> UpsertResult:
    """Create or replace locations with their EVSEs and connectors, in one transaction.

    EVSEs and connectors missing from a replaced location are marked removed, never deleted.
    """
    with transaction.atomic():
        result, (written, inserted) = upsert_objects(
            Location, partner=partner, items=items, update_fields=_LOCATION_FIELDS
        )
        if written:
            _write_evses({pk: item.evses for pk, item in written}, replace=True, new_locations=inserted)
            keys = [(i.country_code, i.party_id, i.ocpi_id) for _, i in written]
            cdrs_link_locations(keys=keys)  # CDRs that arrived before their location
            locations_stored.send(sender=Location, keys=keys)
    return result


class _EvsesWritten(NamedTuple):
    created: set[tuple[int, str]]  # (location pk, EVSE uid)
    stale: dict[tuple[int, str], datetime]  # left as they were: the stored last_updated is newer


def _write_evses(
    evses_by_location: dict[int, list[EvseData]], *, replace: bool, new_locations: AbstractSet[int] = frozenset()
) -> _EvsesWritten:
    """Upsert EVSEs (and their connectors) by the status rule (`evse_status`); with `replace`, EVSEs not
    listed are marked removed.

    The EVSEs are read under their row locks (in key order, so two writers cannot deadlock), and the rule is
    decided on what each write replaces. `newer_only` keeps it for an EVSE another writer creates meanwhile.
    Those of `new_locations` (inserted by this transaction: nothing of theirs is stored) are inserted without
    looking (`_insert_evses`).
    """
    created: set[tuple[int, str]] = set()
    if new_locations:
        created = _insert_evses({pk: evses for pk, evses in evses_by_location.items() if pk in new_locations})
        evses_by_location = {pk: evses for pk, evses in evses_by_location.items() if pk not in new_locations}
        if not evses_by_location:
            return _EvsesWritten(created=created, stale={})
    old = {(row["location_id"], row["uid"]): row for row in _locked_evses(list(evses_by_location))}
    rows = []
    history_due = set()
    stale = {}
    for location_id, evses in evses_by_location.items():
        for e in evses:
            key = (location_id, e.uid)
            stored = old.get(key)
            update = StatusUpdate(e.fields["status"], e.fields["last_updated"])
            if stored is not None and not update.applies_to(stored):
                stale[key] = stored["last_updated"]
                continue
            if update.history_due_for(stored):
                history_due.add(key)
            moved = update.moves(removed_at=stored["removed_at"] if stored else None)
            rows.append({"location_id": location_id, "uid": e.uid, "removed_at": None, **e.fields, **moved})
    written = bulk_upsert(
        Evse,
        rows,
        unique_fields=("location_id", "uid"),
        update_fields=(*_EVSE_FIELDS, "removed_at"),
        returning=("pk", "location_id", "uid", "status", "last_updated"),
        newer_only="last_updated",
    )

    data_by_key = {(location_id, e.uid): e for location_id, evses in evses_by_location.items() for e in evses}
    # Rows, not model instances: a first pull writes one per EVSE (100,000 for a big CPO), and building
    # EvseStatusChange instances for them cost 1.5 s of a 3,000-location pull (profiled), more than the COPY.
    history = [
        {"evse_id": pk, **StatusUpdate(status, last_updated).history_values()}
        for pk, location_id, uid, status, last_updated in written
        if (location_id, uid) in history_due
    ]
    bulk_insert_rows(EvseStatusChange, history)

    if replace:
        gone = [row["id"] for key, row in old.items() if key not in data_by_key and row["removed_at"] is None]
        if gone:
            Evse.objects.filter(any_of("pk", gone)).update(removed_at=timezone.now())

    _write_connectors(
        {pk: data_by_key[(location_id, uid)].connectors for pk, location_id, uid, _, _ in written}, replace=True
    )
    return _EvsesWritten(created=created | {key for key in data_by_key if key not in old}, stale=stale)


def _insert_evses(evses_by_location: dict[int, list[EvseData]]) -> set[tuple[int, str]]:
    """EVSEs of locations this transaction inserted, with their connectors and first status history: plain
    inserts (COPY on PostgreSQL), since nothing of theirs can be stored yet: no stored row to read, lock or
    compare, and no ON CONFLICT. The status rule (`evse_status`) as it holds for a new EVSE. A first pull
    writes every EVSE this way."""
    updates = [
        (location_id, e, StatusUpdate(e.fields["status"], e.fields["last_updated"]))
        for location_id, evses in evses_by_location.items()
        for e in evses
    ]
    pks = bulk_insert_rows(
        Evse,
        [
            {"location_id": location_id, "uid": e.uid, "removed_at": None, **e.fields, **update.moves(removed_at=None)}
            for location_id, e, update in updates
        ],
        keys=True,
    )
    bulk_insert_rows(
        EvseStatusChange,
        [
            {"evse_id": pk, **update.history_values()}
            for pk, (_, _, update) in zip(pks, updates, strict=True)
            if update.history_due_for(None)
        ],
    )
    bulk_insert_rows(
        Connector,
        [
            {"evse_id": pk, "ocpi_id": c.ocpi_id, "removed_at": None, **c.fields}
            for pk, (_, e, _) in zip(pks, updates, strict=True)
            for c in e.connectors
        ],
    )
    return {(location_id, e.uid) for location_id, e, _ in updates}


def _locked_evses(location_ids: list[int]) -> list[dict[str, Any]]:
    """The EVSEs of these locations, locked in key order (two writers cannot deadlock), read under the locks.

    On PostgreSQL found first by an index probe per location (`rows_by`; `location_id IN (...)` scanned the
    whole table when statistics lagged), then locked by primary key, which the planner reads by index
    whatever the statistics: it knows a key matches one row.
    """
    columns = ("id", "location_id", "uid", "status", "last_updated", "removed_at")
    if connection.vendor != "postgresql":
        return list(
            Evse.objects.select_for_update().filter(location_id__in=location_ids).order_by("pk").values(*columns)
        )
    ids = [row["id"] for row in rows_by(Evse, "location", location_ids, ("id",))]
    if not ids:
        return []
    return list(Evse.objects.select_for_update().filter(any_of("pk", ids)).order_by("pk").values(*columns))


def _write_connectors(connectors_by_evse: dict[int, list[ConnectorData]], *, replace: bool) -> None:
    rows = [
        {"evse_id": evse_id, "ocpi_id": c.ocpi_id, "removed_at": None, **c.fields}
        for evse_id, connectors in connectors_by_evse.items()
        for c in connectors
    ]
    if replace:
        listed = {(r["evse_id"], r["ocpi_id"]) for r in rows}
        existing = rows_by(Connector, "evse", list(connectors_by_evse), ("id", "evse_id", "ocpi_id", "removed_at"))
        gone = [r["id"] for r in existing if r["removed_at"] is None and (r["evse_id"], r["ocpi_id"]) not in listed]
        if gone:
            Connector.objects.filter(any_of("pk", gone)).update(removed_at=timezone.now())
    bulk_upsert(Connector, rows, unique_fields=("evse_id", "ocpi_id"), update_fields=(*_CONNECTOR_FIELDS, "removed_at"))


# --- EVSE and connector PUT ----------------------------------------------------------------------------


def _location(party: Party, location_id: str) -> Location:
    try:
        return Location.objects.get(country_code=party[0], party_id=party[1], ocpi_id=location_id)
    except Location.DoesNotExist:
        raise UnknownObject(f"Unknown location {party[0]}/{party[1]}/{location_id}.", ocpi_status=2003) from None


def _evse(party: Party, location_id: str, evse_uid: str, *, update: StatusUpdate | None = None) -> Evse:
    """The EVSE; for an `update`, locked, with the status rule's verdicts on it: `applies`, `history_due`
    (when the update carries a status)."""
    queryset = Evse.objects.all()
    if update is not None:
        verdicts = {"applies": update.applies()}
        if update.status is not None:
            verdicts["history_due"] = update.history_due()
        queryset = Evse.objects.select_for_update(of=("self",)).annotate(**verdicts)
    try:
        return queryset.get(
            location__country_code=party[0], location__party_id=party[1], location__ocpi_id=location_id, uid=evse_uid
        )
    except Evse.DoesNotExist:
        raise UnknownObject(f"Unknown EVSE {evse_uid} at location {party[0]}/{party[1]}/{location_id}.") from None


def evse_put(*, party: Party, location_id: str, evse: EvseData) -> bool:
    """Create or replace one EVSE of a known location. Returns True when it was created."""
    with transaction.atomic():
        location = _location(party, location_id)
        written = _write_evses({location.pk: [evse]}, replace=False)
        if written.stale:
            (stored,) = written.stale.values()
            raise StaleUpdate(f"EVSE {evse.uid}: stored last_updated {stored:%Y-%m-%dT%H:%M:%SZ} is newer.")
    return bool(written.created)


def connector_put(*, party: Party, location_id: str, evse_uid: str, connector: ConnectorData) -> bool:
    with transaction.atomic():
        evse = _evse(party, location_id, evse_uid)
        current = (
            Connector.objects.filter(evse=evse, ocpi_id=connector.ocpi_id)
            .values_list("last_updated", flat=True)
            .first()
        )
        if current is not None and connector.fields["last_updated"] < current:
            raise StaleUpdate(f"Connector {connector.ocpi_id}: stored last_updated is newer.")
        _write_connectors({evse.pk: [connector]}, replace=False)
    return current is None


# --- PATCH ---------------------------------------------------------------------------------------------


def _merge(obj: Location | Evse | Connector, changes: dict[str, Any], columns: tuple[str, ...]) -> list[str]:
    """Apply changed column values to `obj`; the rest goes into `extra`. Returns the fields to save."""
    fields = []
    extra_changes = {k: v for k, v in changes.items() if k not in columns}
    for name in columns:
        if name in changes and name != "extra":
            setattr(obj, name, changes[name])
            fields.append(name)
    if extra_changes:
        obj.extra = {**obj.extra, **extra_changes}
        fields.append("extra")
    return fields


def location_patch(
    *,
    party: Party,
    location_id: str,
    changes: dict[str, Any],
    last_updated: datetime,
    evses: list[EvseData] | None = None,
) -> None:
    with transaction.atomic():
        location = (
            Location.objects.select_for_update()
            .filter(country_code=party[0], party_id=party[1], ocpi_id=location_id)
            .first()
        )
        if location is None:
            raise UnknownObject(f"Unknown location {party[0]}/{party[1]}/{location_id}.", ocpi_status=2003)
        if last_updated < location.last_updated:
            raise StaleUpdate(f"Location {location_id}: stored last_updated is newer.")
        fields = _merge(location, {**changes, "last_updated": last_updated}, _LOCATION_FIELDS)
        location.content_hash = ""  # no longer the hash of a whole object we received
        location.save(update_fields=[*fields, "content_hash", "updated_at"])
        if evses:
            _write_evses({location.pk: evses}, replace=False)


def evse_patch(
    *,
    party: Party,
    location_id: str,
    evse_uid: str,
    changes: dict[str, Any],
    last_updated: datetime,
    connectors: list[ConnectorData] | None = None,
) -> None:
    """An EVSE's fields, by the status rule (`evse_status`): one locked read, one update, one history row if
    the status moved."""
    update = StatusUpdate(changes.get("status"), last_updated)
    with transaction.atomic():
        evse = _evse(party, location_id, evse_uid, update=update)
        if not evse.applies:  # type: ignore[attr-defined]
            raise StaleUpdate(f"EVSE {evse_uid}: stored last_updated is newer.")
        moved = update.moves(removed_at=evse.removed_at)
        fields = _merge(evse, {**changes, **moved}, (*_EVSE_FIELDS, "removed_at"))
        evse.save(update_fields=fields)
        if update.status is not None and evse.history_due:  # type: ignore[attr-defined]
            EvseStatusChange.objects.create(evse=evse, **update.history_values())
        if connectors:
            _write_connectors({evse.pk: connectors}, replace=False)


def evse_status_patch(*, party: Party, location_id: str, evse_uid: str, status: str, last_updated: datetime) -> None:
    """The hot path of a busy network: a PATCH that changes only an EVSE's status, by the status rule
    (`evse_status`).

    One decision under the row lock: on PostgreSQL the locked look-up, the UPDATE and the history row are one
    statement (a data-modifying CTE: atomic, one round trip, one commit); elsewhere the ORM does them in a
    transaction. Both run the same queryset. The history row is also the record of what the CPO sent
    (successful status PATCHes skip the request log, see OCPI_REQUEST_LOG_STATUS_PATCHES). REMOVED goes through
    `evse_patch`, as it dates the removal from what is stored.
    """
    if status == EvseStatus.REMOVED:
        changes = {"status": status}
        evse_patch(party=party, location_id=location_id, evse_uid=evse_uid, changes=changes, last_updated=last_updated)
        return
    pk, applied = _apply_status(party, location_id, evse_uid, StatusUpdate(status, last_updated))
    if pk is None:
        raise UnknownObject(f"Unknown EVSE {evse_uid} at location {party[0]}/{party[1]}/{location_id}.")
    if not applied:
        raise StaleUpdate(f"EVSE {evse_uid}: stored last_updated is newer.")


def _status_target(
    country_code: str, party_id: str, location_id: str, evse_uid: str, status: str, last_updated: datetime
) -> QuerySet[Evse]:
    """The EVSE a status update is for, locked, with the rule's verdicts as they hold under the lock."""
    update = StatusUpdate(status, last_updated)
    return (
        Evse.objects.select_for_update(of=("self",))
        .filter(
            location__country_code=country_code,
            location__party_id=party_id,
            location__ocpi_id=location_id,
            uid=evse_uid,
        )
        .only("pk")
        .annotate(applies=update.applies(), history_due=update.history_due())
    )


# The status PATCH's look-up, compiled once per thread for the PostgreSQL statement (`_status_statement`).
_status_target_query = PreparedQuery(
    _status_target, "country_code", "party_id", "location_id", "evse_uid", "status", datetimes=("last_updated",)
)


def _apply_status(party: Party, location_id: str, evse_uid: str, update: StatusUpdate) -> tuple[int | None, bool]:
    """The EVSE's primary key (None: unknown) and whether the update was applied (`StatusUpdate.applies`).

    One decision under the row lock: the EVSE is locked, then "applies" moves status and last_updated
    together, and the status held under that lock says whether a history row is due. Deciding "status
    changed" and "status unchanged" in two separate UPDATEs lost the newest update when a concurrent older
    one set the same status first: one re-checked the locked row, the other its snapshot, and neither matched
    (issue 20: 29 of 10,000 EVSEs under 32 clients).
    """
    if update.status is None or update.status == EvseStatus.REMOVED:
        raise ValueError("a status PATCH carries a status other than REMOVED (see evse_status_patch)")
    key = (party[0], party[1], location_id, evse_uid)
    if connection.vendor == "postgresql":
        return _apply_status_in_one_statement(*key, update)
    return _apply_status_with_orm(*key, update)


def _apply_status_in_one_statement(
    country_code: str, party_id: str, location_id: str, evse_uid: str, update: StatusUpdate
) -> tuple[int | None, bool]:
    """PostgreSQL: `_status_target` compiled into `_status_statement`."""
    select, params = _status_target_query.sql(
        country_code=country_code,
        party_id=party_id,
        location_id=location_id,
        evse_uid=evse_uid,
        status=update.status or "",
        last_updated=update.last_updated,
    )
    moved = update.moves(removed_at=None)
    history = update.history_values()
    with connection.cursor() as cursor:
        cursor.execute(
            _status_statement(select, tuple(moved), tuple(history)), [*params, *moved.values(), *history.values()]
        )
        pk, applied = cursor.fetchone()
    return pk, bool(applied)


def _apply_status_with_orm(
    country_code: str, party_id: str, location_id: str, evse_uid: str, update: StatusUpdate
) -> tuple[int | None, bool]:
    """The same decision through the ORM, in a transaction: `_status_target` run as a queryset."""
    with transaction.atomic():
        evse = _status_target(country_code, party_id, location_id, evse_uid, update.status or "", update.last_updated)
        found = evse.first()
        if found is None:
            return None, False
        if not found.applies:  # type: ignore[attr-defined]
            return found.pk, False
        Evse.objects.filter(pk=found.pk).update(**update.moves(removed_at=None))
        if found.history_due:  # type: ignore[attr-defined]
            EvseStatusChange.objects.create(evse_id=found.pk, **update.history_values())
        return found.pk, True


@lru_cache(maxsize=4)
def _status_statement(select: str, moved: tuple[str, ...], history: tuple[str, ...]) -> str:
    """WITH target (the EVSE locked, with `applies` and `history_due` from `_status_target`), applied (the
    UPDATE of the `moved` fields where the update applies), history (the INSERT of the history row where due)
    SELECT the EVSE's key (NULL: unknown) and whether it was applied.

    FOR UPDATE waits for a concurrent writer and then reads the row as it committed, so the verdicts are
    those of the row the UPDATE replaces.
    """
    query = _status_target_query
    q = connection.ops.quote_name
    columns = ", ".join(f"c{i}" for i in range(query.width()))
    pk, applies, history_due = (f"target.c{query.position(name)}" for name in ("id", "applies", "history_due"))
    assignments = ", ".join(f"{q(column(Evse, name))} = %s" for name in moved)
    history_columns = ", ".join(q(column(EvseStatusChange, name)) for name in ("evse", *history))
    return f"""
WITH target ({columns}) AS ({select}),
applied AS (
    UPDATE {q(Evse._meta.db_table)} evse SET {assignments} FROM target
    WHERE evse.id = {pk} AND {applies}
    RETURNING evse.id, {history_due} AS history_due
), history AS (
    INSERT INTO {q(EvseStatusChange._meta.db_table)} ({history_columns})
    SELECT id, {", ".join(["%s"] * len(history))} FROM applied WHERE history_due
)
SELECT (SELECT {pk} FROM target), EXISTS (SELECT 1 FROM applied)
"""  # noqa: S608 # nosec B608 - table and column names from the models, values as parameters


def connector_patch(
    *, party: Party, location_id: str, evse_uid: str, connector_id: str, changes: dict[str, Any], last_updated: datetime
) -> None:
    with transaction.atomic():
        connector = (
            Connector.objects.select_for_update()
            .filter(
                evse__location__country_code=party[0],
                evse__location__party_id=party[1],
                evse__location__ocpi_id=location_id,
                evse__uid=evse_uid,
                ocpi_id=connector_id,
            )
            .first()
        )
        if connector is None:
            raise UnknownObject(f"Unknown connector {connector_id} of EVSE {evse_uid} at location {location_id}.")
        if last_updated < connector.last_updated:
            raise StaleUpdate(f"Connector {connector_id}: stored last_updated is newer.")
        fields = _merge(connector, {**changes, "last_updated": last_updated}, _CONNECTOR_FIELDS)
        connector.save(update_fields=fields)
