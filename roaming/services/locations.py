"""Writing what CPOs tell us about their locations: pushes (PUT/PATCH) and pull-sync pages alike.

One rule everywhere: an update older than what we hold (`last_updated`) is not applied, and an object
whose content did not change is not rewritten. `locations_upsert` is the single write path for whole
locations, whether one arrives by PUT or a thousand by a sync page; it runs in one transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from emsp.lib.bulkupsert import bulk_upsert
from roaming.models import Connector, Evse, EvseStatus, EvseStatusChange, Location, Partner
from roaming.records import ConnectorData, EvseData, LocationData
from roaming.signals import locations_stored

from .cdrs import cdrs_link_locations
from .common import Party, StaleUpdate, UnknownObject, UpsertResult, upsert_objects

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
        result, written = upsert_objects(Location, partner=partner, items=items, update_fields=_LOCATION_FIELDS)
        if written:
            _write_evses({pk: item.evses for pk, item in written}, replace=True)
            keys = [(i.country_code, i.party_id, i.ocpi_id) for _, i in written]
            cdrs_link_locations(keys=keys)  # CDRs that arrived before their location
            locations_stored.send(sender=Location, keys=keys)
    return result


def _write_evses(evses_by_location: dict[int, list[EvseData]], *, replace: bool) -> None:
    """Upsert EVSEs (and their connectors); with `replace`, EVSEs not listed are marked removed."""
    location_ids = list(evses_by_location)
    old = {
        (row["location_id"], row["uid"]): row
        for row in Evse.objects.filter(location_id__in=location_ids).values(
            "id", "location_id", "uid", "status", "removed_at"
        )
    }
    written = bulk_upsert(
        Evse,
        [
            {"location_id": location_id, "uid": e.uid, "removed_at": None, **e.fields}
            for location_id, evses in evses_by_location.items()
            for e in evses
        ],
        unique_fields=("location_id", "uid"),
        update_fields=(*_EVSE_FIELDS, "removed_at"),
        returning=("pk", "location_id", "uid", "status", "last_updated"),
    )

    history = [
        EvseStatusChange(evse_id=pk, status=status, changed_at=last_updated)
        for pk, location_id, uid, status, last_updated in written
        if (previous := old.get((location_id, uid))) is None or previous["status"] != status
    ]
    EvseStatusChange.objects.bulk_create(history, batch_size=2000)

    if replace:
        listed = {(location_id, uid) for _, location_id, uid, _, _ in written}
        gone = [row["id"] for key, row in old.items() if key not in listed and row["removed_at"] is None]
        if gone:
            Evse.objects.filter(pk__in=gone).update(removed_at=timezone.now())

    data_by_key = {(location_id, e.uid): e for location_id, evses in evses_by_location.items() for e in evses}
    _write_connectors(
        {pk: data_by_key[(location_id, uid)].connectors for pk, location_id, uid, _, _ in written}, replace=True
    )


def _write_connectors(connectors_by_evse: dict[int, list[ConnectorData]], *, replace: bool) -> None:
    rows = [
        {"evse_id": evse_id, "ocpi_id": c.ocpi_id, "removed_at": None, **c.fields}
        for evse_id, connectors in connectors_by_evse.items()
        for c in connectors
    ]
    if replace:
        listed = {(r["evse_id"], r["ocpi_id"]) for r in rows}
        existing = Connector.objects.filter(evse_id__in=list(connectors_by_evse), removed_at__isnull=True).values_list(
            "id", "evse_id", "ocpi_id"
        )
        gone = [pk for pk, evse_id, ocpi_id in existing if (evse_id, ocpi_id) not in listed]
        if gone:
            Connector.objects.filter(pk__in=gone).update(removed_at=timezone.now())
    bulk_upsert(Connector, rows, unique_fields=("evse_id", "ocpi_id"), update_fields=(*_CONNECTOR_FIELDS, "removed_at"))


# --- EVSE and connector PUT ----------------------------------------------------------------------------


def _location(party: Party, location_id: str) -> Location:
    try:
        return Location.objects.get(country_code=party[0], party_id=party[1], ocpi_id=location_id)
    except Location.DoesNotExist:
        raise UnknownObject(f"Unknown location {party[0]}/{party[1]}/{location_id}.", ocpi_status=2003) from None


def _evse(party: Party, location_id: str, evse_uid: str, *, for_update: bool = False) -> Evse:
    queryset = Evse.objects.select_for_update() if for_update else Evse.objects.all()
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
        current = Evse.objects.filter(location=location, uid=evse.uid).values_list("last_updated", flat=True).first()
        if current is not None and evse.fields["last_updated"] < current:
            raise StaleUpdate(f"EVSE {evse.uid}: stored last_updated {current:%Y-%m-%dT%H:%M:%SZ} is newer.")
        _write_evses({location.pk: [evse]}, replace=False)
    return current is None


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
    """The hot path (status changes): one locked read, one update, one history row if the status moved."""
    with transaction.atomic():
        evse = _evse(party, location_id, evse_uid, for_update=True)
        if last_updated < evse.last_updated:
            raise StaleUpdate(f"EVSE {evse_uid}: stored last_updated is newer.")
        old_status = evse.status
        fields = _merge(evse, {**changes, "last_updated": last_updated}, _EVSE_FIELDS)
        if evse.status == EvseStatus.REMOVED and evse.removed_at is None:
            evse.removed_at = last_updated
            fields.append("removed_at")
        evse.save(update_fields=fields)
        if evse.status != old_status:
            EvseStatusChange.objects.create(evse=evse, status=evse.status, changed_at=last_updated)
        if connectors:
            _write_connectors({evse.pk: connectors}, replace=False)


def evse_status_patch(*, party: Party, location_id: str, evse_uid: str, status: str, last_updated: datetime) -> None:
    """The hot path of a busy network: a PATCH that changes only an EVSE's status.

    One conditional UPDATE, under the row lock, decides "newer than stored"; the status it replaced decides
    the history row. On PostgreSQL the locked look-up, the UPDATE and the history row are one statement (a
    data-modifying CTE: atomic, one round trip, one commit); elsewhere the ORM does them in a transaction.
    The history row is also the record of what the CPO sent (successful status PATCHes skip the request log, see
    OCPI_REQUEST_LOG_STATUS_PATCHES). REMOVED goes through `evse_patch`, which also sets `removed_at`.
    """
    pk, applied = _apply_status(party, location_id, evse_uid, status, last_updated)
    if pk is None:
        raise UnknownObject(f"Unknown EVSE {evse_uid} at location {party[0]}/{party[1]}/{location_id}.")
    if not applied:
        raise StaleUpdate(f"EVSE {evse_uid}: stored last_updated is newer.")


def _apply_status(
    party: Party, location_id: str, evse_uid: str, status: str, last_updated: datetime
) -> tuple[int | None, bool]:
    """The EVSE's primary key (None: unknown) and whether the update was applied (not older than stored).

    One decision under the row lock: the EVSE is locked, then "newer than stored" moves status and
    last_updated together, and the status held under that lock says whether a history row is due. Deciding
    "status changed" and "status unchanged" in two separate UPDATEs lost the newest update when a
    concurrent older one set the same status first: one re-checked the locked row, the other its snapshot,
    and neither matched (issue 20: 29 of 10,000 EVSEs under 32 clients).
    """
    country_code, party_id = party
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _STATUS_CHANGE_SQL,
                [
                    country_code, party_id, location_id, evse_uid,  # target
                    status, last_updated, last_updated,  # applied
                    status, last_updated, status,  # history
                ],
            )  # fmt: skip
            pk, applied = cursor.fetchone()
            return pk, bool(applied)
    with transaction.atomic():
        row = (
            Evse.objects.select_for_update()
            .filter(
                location__country_code=country_code,
                location__party_id=party_id,
                location__ocpi_id=location_id,
                uid=evse_uid,
            )
            .values_list("pk", "status", "last_updated")
            .first()
        )
        if row is None:
            return None, False
        pk, old_status, stored = row
        if last_updated < stored:
            return pk, False
        Evse.objects.filter(pk=pk).update(status=status, last_updated=last_updated)
        if status != old_status:
            EvseStatusChange.objects.create(evse_id=pk, status=status, changed_at=last_updated)
        return pk, True


# `target` locks the EVSE (FOR UPDATE waits for a concurrent writer and then reads the row as it committed),
# so `old_status` is the status the UPDATE replaces; the UPDATE re-checks last_updated on that same row.
_STATUS_CHANGE_SQL = f"""
WITH target AS (
    SELECT evse.id, evse.status AS old_status FROM {Evse._meta.db_table} evse JOIN {Location._meta.db_table} location
        ON location.id = evse.location_id
    WHERE location.country_code = %s AND location.party_id = %s AND location.ocpi_id = %s AND evse.uid = %s
    FOR UPDATE OF evse
), applied AS (
    UPDATE {Evse._meta.db_table} evse SET status = %s, last_updated = %s FROM target
    WHERE evse.id = target.id AND evse.last_updated <= %s
    RETURNING evse.id, target.old_status
), history AS (
    INSERT INTO {EvseStatusChange._meta.db_table} (evse_id, status, changed_at)
    SELECT id, %s, %s FROM applied WHERE old_status <> %s
)
SELECT (SELECT id FROM target), EXISTS (SELECT 1 FROM applied)
"""  # noqa: S608 - table names from the models, values as parameters


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
