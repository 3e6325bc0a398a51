"""What the CPO-data services share: their errors, their result, and removal detection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from emsp.lib.bulkupsert import bulk_upsert
from roaming.models import Partner

Party = tuple[str, str]
ObjectKey = tuple[str, str, str]  # (country_code, party_id, CPO's id)


def column(model: type[models.Model], name: str) -> str:
    """The database column of a model's field, for SQL written from the model's metadata."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field.column


class UnknownObject(Exception):
    """The object (or its parent) is not known to us: the CPO should PUT it first.

    `ocpi_status` is 2003 when the missing object is the location itself (OCPI: unknown location).
    """

    def __init__(self, message: str, *, ocpi_status: int = 2001) -> None:
        super().__init__(message)
        self.ocpi_status = ocpi_status


class StaleUpdate(Exception):
    """The update is older than what we hold; nothing was changed."""


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    keys: set[ObjectKey] = field(default_factory=set)  # every object in the batch, for removal detection


class ObjectData(Protocol):
    """What the mapping layer gives for a CPO-owned object (LocationData, TariffData)."""

    country_code: str
    party_id: str
    ocpi_id: str
    last_updated: datetime
    content_hash: str
    fields: dict[str, Any]


D = TypeVar("D", bound=ObjectData)


class Written(NamedTuple, Generic[D]):
    """What `upsert_objects` wrote: (pk, item) pairs, and the pks of the rows this transaction inserted (no
    other writer can have given them children yet: their children can be inserted without looking)."""

    items: list[tuple[int, D]]
    inserted: set[int]


def upsert_objects(
    model: type[models.Model], *, partner: Partner, items: list[D], update_fields: tuple[str, ...]
) -> tuple[UpsertResult, Written[D]]:
    """Create or replace CPO-owned objects keyed by (country_code, party_id, id), in bulk.

    The newest of duplicates in the batch wins; an item older than what we hold is stale, one whose
    content hash is unchanged is not rewritten (only its last_updated moves on). Returns the counts and what
    was written, for the caller to write their children. Call inside a transaction.

    Objects we did not hold are inserted apart (INSERT ... ON CONFLICT DO NOTHING), so that the rows this
    transaction inserted are known: one a concurrent writer inserted meanwhile is written as an update with
    the rest. On SQLite a transaction takes the write lock as it begins (`transaction_mode` IMMEDIATE in the
    settings): what was absent when we read is ours.
    """
    result = UpsertResult()
    latest: dict[ObjectKey, D] = {}
    for item in items:
        key = (item.country_code, item.party_id, item.ocpi_id)
        result.keys.add(key)
        if key not in latest or item.last_updated >= latest[key].last_updated:
            latest[key] = item
    if not latest:
        return result, Written([], set())
    existing = stored_by_key(model, latest, ("content_hash", "last_updated", "removed_at"))
    new: list[D] = []
    to_update: list[D] = []
    bumped: list[D] = []  # the same content under a newer last_updated
    for key, item in latest.items():
        current = existing.get(key)
        if current is None:
            result.created += 1
            new.append(item)
            continue
        if item.last_updated < current["last_updated"]:
            result.stale += 1
            continue
        if item.content_hash == current["content_hash"] and current["removed_at"] is None:
            result.unchanged += 1
            if item.last_updated > current["last_updated"]:
                bumped.append(item)
            continue
        result.updated += 1
        to_update.append(item)
    for item in bumped:
        # Not rewritten, but our version moves on: else a version between the two (older than the CPO's
        # newest, newer than ours) would replace it. Only forward, on the row, whoever else writes it.
        model._default_manager.filter(
            country_code=item.country_code,
            party_id=item.party_id,
            ocpi_id=item.ocpi_id,
            last_updated__lt=item.last_updated,
        ).update(last_updated=item.last_updated)
    if not new and not to_update:
        return result, Written([], set())
    attempted = len(new) + len(to_update)
    inserted: list[tuple[Any, ...]] = []
    if connection.vendor == "postgresql" and new:
        inserted = _write_objects(model, partner, new, update_fields=())
        taken = {(cc, pid, ocpi_id) for _, cc, pid, ocpi_id in inserted}
        to_update += [i for i in new if (i.country_code, i.party_id, i.ocpi_id) not in taken]  # a concurrent insert
    else:
        to_update += new
    written = inserted + _write_objects(model, partner, to_update, update_fields=update_fields)
    if lost := attempted - len(written):  # a concurrent writer stored a newer version meanwhile
        result.stale += lost
        result.updated = max(result.updated - lost, 0)
    if connection.vendor == "postgresql":
        ours = {pk for pk, *_ in inserted}
    else:
        absent = {(i.country_code, i.party_id, i.ocpi_id) for i in new}
        ours = {pk for pk, cc, pid, ocpi_id in written if (cc, pid, ocpi_id) in absent}
    return result, Written([(pk, latest[(cc, pid, ocpi_id)]) for pk, cc, pid, ocpi_id in written], ours)


def _write_objects(
    model: type[models.Model], partner: Partner, items: Sequence[ObjectData], *, update_fields: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """(pk, country_code, party_id, ocpi_id) of the rows written; with no `update_fields`, only new ones."""
    return bulk_upsert(
        model,
        [
            {
                "partner_id": partner.pk,
                "country_code": i.country_code,
                "party_id": i.party_id,
                "ocpi_id": i.ocpi_id,
                "content_hash": i.content_hash,
                "removed_at": None,
                **i.fields,
            }
            for i in items
        ],
        unique_fields=("country_code", "party_id", "ocpi_id"),
        update_fields=(*update_fields, "content_hash", "removed_at") if update_fields else (),
        returning=("pk", "country_code", "party_id", "ocpi_id"),
        newer_only="last_updated" if update_fields else "",
    )


def stored_by_key(
    model: type[models.Model], keys: Iterable[ObjectKey], fields: tuple[str, ...]
) -> dict[ObjectKey, dict[str, Any]]:
    """`fields` of the stored objects with these keys (country_code, party_id, id), by key.

    On PostgreSQL one probe of the unique index per key (a LATERAL look-up from the unnested keys). The ORM's
    `ocpi_id IN (...)` left the plan to statistics that a bulk load outruns (and that never come when
    autovacuum is off, as on the benchmark machine): the planner expected one row for the party and scanned
    every location of the party against the page's 1,000 ids, 0.5 s a page at 12,000 stored locations and
    growing with every page, which made a full pull quadratic. The LATERAL subquery (LIMIT 1: its key is
    unique) is not flattened into a join, so it can only be run as an index probe.
    """
    keys = list(keys)
    if not keys:
        return {}
    if connection.vendor != "postgresql":
        by_party: dict[Party, list[str]] = {}
        for country_code, party_id, ocpi_id in keys:
            by_party.setdefault((country_code, party_id), []).append(ocpi_id)
        condition = Q()
        for (country_code, party_id), ids in by_party.items():
            condition |= Q(country_code=country_code, party_id=party_id, ocpi_id__in=ids)
        return {
            (r["country_code"], r["party_id"], r["ocpi_id"]): r
            for r in model._default_manager.filter(condition).values("country_code", "party_id", "ocpi_id", *fields)
        }
    q = connection.ops.quote_name
    country_code, party_id, ocpi_id = (q(column(model, name)) for name in ("country_code", "party_id", "ocpi_id"))
    selected = ", ".join(f"t.{q(column(model, name))}" for name in fields)
    sql = (
        f"SELECT k.country_code, k.party_id, k.ocpi_id, {selected} "  # noqa: S608 # nosec B608 - names from the model
        "FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(country_code, party_id, ocpi_id) "
        f"CROSS JOIN LATERAL (SELECT * FROM {q(model._meta.db_table)} t WHERE t.{country_code} = k.country_code "
        f"AND t.{party_id} = k.party_id AND t.{ocpi_id} = k.ocpi_id LIMIT 1) t"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(column_values) for column_values in zip(*keys, strict=True)])
        return {(row[0], row[1], row[2]): dict(zip(fields, row[3:], strict=True)) for row in cursor.fetchall()}


def rows_by(
    model: type[models.Model], key: str, values: Sequence[Any], fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """`fields` of the rows whose `key` (the first column of an index: a foreign key) is one of `values`.

    On PostgreSQL one index probe per value, whatever the statistics say (see `stored_by_key`): for
    `evse.location_id IN (1,000 ids)` without statistics the planner expected every row and scanned the
    whole table, 50 ms at 60,000 EVSEs and growing with each page of a pull. OFFSET 0 keeps the LATERAL
    subquery from being flattened into a join.
    """
    if not values:
        return []
    if connection.vendor != "postgresql":
        return list(model._default_manager.filter(**{f"{key}__in": values}).values(*fields))
    q = connection.ops.quote_name
    field = model._meta.get_field(key)
    assert isinstance(field, models.Field)
    selected = ", ".join(f"t.{q(column(model, name))}" for name in fields)
    sql = (
        f"SELECT {selected} FROM unnest(%s::{field.db_type(connection)}[]) AS k(value) "  # noqa: S608 # nosec B608 - names from the model
        f"CROSS JOIN LATERAL (SELECT * FROM {q(model._meta.db_table)} t WHERE t.{q(field.column)} = k.value OFFSET 0) t"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(values)])
        return [dict(zip(fields, row, strict=True)) for row in cursor.fetchall()]


def lock_objects(model: type[models.Model], keys: Iterable[ObjectKey]) -> None:
    """Make concurrent writers of the same CPO objects take turns until the transaction ends.

    For writers that read, decide by rules SQL cannot state in one statement (sessions: the lifecycle at
    equal timestamps), then write. A row lock would not cover an object that a concurrent request is about
    to create; a transaction-level advisory lock on the object's key does. Keys are locked in one order,
    so two batches cannot deadlock. PostgreSQL only: SQLite's writers take turns anyway.
    """
    if connection.vendor != "postgresql":
        return
    names = sorted({f"{model._meta.db_table}:{cc}/{pid}/{ocpi_id}" for cc, pid, ocpi_id in keys})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(%s::text[]) k", [names])


def mark_unlisted(model: type[models.Model], *, partner: Partner, parties: set[Party], listed: set[ObjectKey]) -> int:
    """After a full sync: what the CPO no longer lists gets `removed_at` (kept for history and billing).

    Some CPOs make objects vanish instead of marking them REMOVED; this is what keeps the mirror true.
    """
    now = timezone.now()
    removed = 0
    for country_code, party_id in parties:
        candidates = model._default_manager.filter(
            partner=partner, country_code=country_code, party_id=party_id, removed_at__isnull=True
        ).values_list("pk", "ocpi_id")
        gone = [pk for pk, ocpi_id in candidates if (country_code, party_id, ocpi_id) not in listed]
        for start in range(0, len(gone), 1000):
            removed += model._default_manager.filter(pk__in=gone[start : start + 1000]).update(removed_at=now)
    return removed
