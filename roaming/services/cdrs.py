"""Storing the CDRs CPOs send us, pushed (POST) or pulled: once, as received, never changed.

`cdr_store` is idempotent: a CDR whose (country_code, party_id, id) we already hold creates nothing,
whether it comes again by POST (a retry, a duplicate delivery), in a pull page, or twice at the same
moment (the unique constraint decides: on PostgreSQL the loser's INSERT ... ON CONFLICT DO NOTHING
inserts nothing, elsewhere it fails inside a savepoint; either way it answers with the stored row). A CDR
with the id of a stored one but other content is NOT stored: CDRs are immutable and a CPO corrects one
with a credit CDR and a new CDR under a new id. The first one stays, and the caller is told about the
conflict.

On PostgreSQL a new CDR is one statement (`_insert_linked`); elsewhere the links are looked up first.

Links are resolved on the way in: token and driver (an unknown token is flagged, the CDR kept),
location, session (also later, when the session arrives after its CDR), the tariffs it names that we hold
and, for a credit CDR, the CDR it credits (also later, should the original arrive after its credit).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Field, JSONField, Model, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from drivers.models import Token
from drivers.selectors import token_match
from emsp.lib.prepared import PreparedQuery
from roaming.models import Cdr, ChargingSession, Location, Partner, Tariff
from roaming.models.cdrs import cdr_url
from roaming.records import CdrData
from roaming.signals import CDR_COMPANIONS, cdr_stored

from .common import ObjectKey, UpsertResult, column
from .sessions import our_token_key, tokens_named_by_contract

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredCdr:
    pk: int
    created: bool
    #: A CDR with this id but other content was stored before; it was kept and this one refused.
    conflict: bool = False
    #: For a new CDR: whether its token is one of ours, and the CDR it credits if it is a credit we can link.
    token_known: bool = True
    credit_for_pk: int | None = None

    @property
    def url(self) -> str:
        return cdr_url(self.pk)


def _stored(cdr: CdrData) -> tuple[int, str] | None:
    return (
        Cdr.objects.filter(country_code=cdr.country_code, party_id=cdr.party_id, ocpi_id=cdr.ocpi_id)
        .values_list("pk", "content_hash")
        .first()
    )


def _existing(cdr: CdrData, stored: tuple[int, str]) -> StoredCdr:
    pk, stored_hash = stored
    conflict = stored_hash != cdr.content_hash
    if conflict:
        logger.warning(
            "CDR %s/%s/%s sent again with other content: the stored one (#%s) is kept",
            cdr.country_code,
            cdr.party_id,
            cdr.ocpi_id,
            pk,
        )
    return StoredCdr(pk=pk, created=False, conflict=conflict)


class _Links(NamedTuple):
    stored_pk: int | None
    stored_hash: str | None
    token_pk: int | None
    driver_pk: int | None
    session_pk: int | None
    location_pk: int | None
    credit_for_pk: int | None
    credits_waiting: bool


class _Keys(NamedTuple):
    """What a new CDR's links are looked up by (None matches nothing)."""

    token_uid: str | None  # a `uid_key`; only when the `cdr_token` is ours (`our_token_key`)
    token_type: str
    session_id: str | None
    location_id: str
    credited_id: str | None  # for a credit CDR, the id of the CDR it credits


def _keys(cdr: CdrData) -> _Keys:
    fields = cdr.fields
    token = our_token_key(cdr.token_party, fields["token_uid"], fields["token_type"])
    return _Keys(
        token_uid=token[0] if token else None,
        token_type=fields["token_type"],
        session_id=fields["ocpi_session_id"] or None,
        location_id=fields["cdr_location"]["id"],
        credited_id=fields["credit_reference_id"] if fields["credit"] else None,
    )


def _unsaved(partner: Partner, cdr: CdrData, **links: object) -> Cdr:
    """The new CDR row with every column taken from the CDR; `links` are the resolved foreign keys."""
    return Cdr(
        partner=partner,
        country_code=cdr.country_code,
        party_id=cdr.party_id,
        ocpi_id=cdr.ocpi_id,
        raw=cdr.raw,
        content_hash=cdr.content_hash,
        **links,
        **cdr.fields,
    )


# A new CDR's links, stated once. The token, when it is ours (`_keys`), is matched by the one token rule
# (`drivers.selectors.token_match`) and gives token_id and driver_id; unknown_token says there is none. The
# other links are rows of the CDR's own party found by one of the CDR's ids: (link column, model, `_Keys`
# field), matched on the model's `ocpi_id`. `_links` runs them through the ORM and `_insert_linked_sql_for`
# writes them into PostgreSQL's INSERT: both executions come from this statement, and
# tests/roaming/test_cdr_links.py runs both on the same cases.
_PARTY_LINKS: tuple[tuple[str, type[Model], str], ...] = (
    ("session_id", ChargingSession, "session_id"),
    ("location_id", Location, "location_id"),
    ("credit_for_id", Cdr, "credited_id"),
)
# Filled by the look-ups rather than from the CDR's values.
_LINK_COLUMNS = ("token_id", "driver_id", "unknown_token", *(link for link, _, _ in _PARTY_LINKS))


def _token_link(uid: str | None, type: str) -> QuerySet[Token]:
    """Our token for a CDR's `_Keys` (`token_uid`, `token_type`), with its driver's key."""
    return token_match(uid, type).only("pk", "driver_id")


# The token look-up of PostgreSQL's INSERT, compiled once per thread. `uid` is a `uid_key` (None: not ours).
_token_link_query = PreparedQuery(_token_link, "uid", "type")


def _links(cdr: CdrData) -> _Links:
    """Whether we hold the CDR already, and every row a new one links to (`_PARTY_LINKS`), through the ORM.

    The portable path; PostgreSQL writes the same links into the CDR's INSERT (`_insert_linked`).
    """
    keys = _keys(cdr)
    party = {"country_code": cdr.country_code, "party_id": cdr.party_id}
    stored = _stored(cdr)
    token = _token_link(keys.token_uid, keys.token_type).values_list("pk", "driver_id").first()
    found = {}
    for link, model, key in _PARTY_LINKS:
        value = getattr(keys, key)
        rows = (
            model._default_manager.filter(**party, ocpi_id=value)
            if value is not None
            else model._default_manager.none()
        )
        found[link] = rows.values_list("pk", flat=True).first()
    credits_waiting = Cdr.objects.filter(
        **party, credit_reference_id=cdr.ocpi_id, credit=True, credit_for__isnull=True
    ).exists()
    return _Links(
        stored_pk=stored[0] if stored else None,
        stored_hash=stored[1] if stored else None,
        token_pk=token[0] if token else None,
        driver_pk=token[1] if token else None,
        session_pk=found["session_id"],
        location_pk=found["location_id"],
        credit_for_pk=found["credit_for_id"],
        credits_waiting=credits_waiting,
    )


_CDR = Cdr._meta.db_table


def cdr_store(*, partner: Partner, cdr: CdrData) -> StoredCdr:
    """Store a CDR unless we hold it already (see the module docstring)."""
    tokens_named_by_contract([(cdr.token_party, cdr.fields)])  # 2.1.1 names the token by contract id only
    _session_by_place(cdr)
    on_postgresql = connection.vendor == "postgresql"
    stored = _insert_linked(partner, cdr) if on_postgresql else _store_in_steps(partner, cdr)
    if stored.created:
        _log_unresolved(cdr, stored)
        cdr_stored.send(sender=Cdr, cdr_pk=stored.pk)  # billing prices it later, never in this request
    return stored


def _session_by_place(cdr: CdrData) -> None:
    """A CDR that names no session (2.1.1 has no `session_id`; 2.2.1 makes it optional) belongs to the party's one
    session of the same token at the same connector that started at the same moment: its id is filled in, and the
    one session link rule (`_PARTY_LINKS`) links it. None or several such sessions: no session, as before."""
    fields = cdr.fields
    where = fields["cdr_location"]
    if fields["ocpi_session_id"] or not fields["token_uid"]:
        return
    found = list(
        ChargingSession.objects.filter(
            country_code=cdr.country_code,
            party_id=cdr.party_id,
            ocpi_location_id=where["id"],
            evse_uid=where["evse_uid"],
            connector_id=where["connector_id"],
            start_date_time=fields["start_date_time"],
            token_uid__iexact=fields["token_uid"],
        ).values_list("ocpi_id", flat=True)[:2]
    )
    if len(found) == 1:
        fields["ocpi_session_id"] = found[0]


def _log_unresolved(cdr: CdrData, stored: StoredCdr) -> None:
    if not stored.token_known:
        logger.warning(
            "CDR %s/%s/%s is for a token we don't know (%s %s): stored and flagged",
            cdr.country_code,
            cdr.party_id,
            cdr.ocpi_id,
            cdr.fields["token_type"],
            cdr.fields["token_uid"],
        )
    if cdr.fields["credit"] and stored.credit_for_pk is None:
        logger.warning(
            "Credit CDR %s/%s/%s credits %r, which we don't hold",
            cdr.country_code,
            cdr.party_id,
            cdr.ocpi_id,
            cdr.fields["credit_reference_id"],
        )


def _found_again(cdr: CdrData, stored: tuple[int, str]) -> StoredCdr:
    existing = _existing(cdr, stored)
    if not existing.conflict:
        _link_tariffs(existing.pk, cdr)  # tariffs that arrived since the first POST, or a first POST cut short
    return existing


def _store_in_steps(partner: Partner, cdr: CdrData) -> StoredCdr:
    """The portable path: look up the links, INSERT, link tariffs and waiting credits, in a transaction when
    there is more than the INSERT to write."""
    links = _links(cdr)
    if links.stored_pk is not None and links.stored_hash is not None:
        return _found_again(cdr, (links.stored_pk, links.stored_hash))

    unknown_token = links.token_pk is None
    # A lone INSERT needs no transaction; a savepoint only inside the caller's transaction (so that a
    # duplicate does not break it), and a transaction when the credits waiting for this CDR or companion rows
    # (`register_cdr_companion`) are written too.
    needs_block = links.credits_waiting or connection.in_atomic_block or bool(CDR_COMPANIONS)
    try:
        with transaction.atomic() if needs_block else nullcontext():
            row = _unsaved(
                partner,
                cdr,
                session_id=links.session_pk,
                token_id=links.token_pk,
                driver_id=links.driver_pk,
                unknown_token=unknown_token,
                location_id=links.location_pk,
                credit_for_id=links.credit_for_pk,
            )
            row.save()
            for model, foreign_key in CDR_COMPANIONS:
                model._default_manager.create(**{foreign_key: row})
            if links.credits_waiting and not row.credit:
                Cdr.objects.filter(
                    country_code=row.country_code,
                    party_id=row.party_id,
                    credit_reference_id=row.ocpi_id,
                    credit=True,
                    credit_for__isnull=True,
                ).update(credit_for=row)
            _link_tariffs(row.pk, cdr)
    except IntegrityError:
        stored = _stored(cdr)
        if stored is None:
            raise
        return _existing(cdr, stored)  # the same CDR stored at the same moment by another request
    return StoredCdr(pk=row.pk, created=True, token_known=not unknown_token, credit_for_pk=links.credit_for_pk)


def _insert_linked(partner: Partner, cdr: CdrData) -> StoredCdr:
    """PostgreSQL: the INSERT with every link, the tariff links and the waiting credits, in one statement.

    A CDR POST is on the hot path and every round trip costs more than the work it carries. ON CONFLICT DO
    NOTHING makes a CDR we hold already, or one stored at the same moment by another request, insert
    nothing; the stored one is then read and compared.
    """
    keys = _keys(cdr)
    # A None uid (not our token) goes in as NULL, which matches nothing.
    token_select, token_params = _token_link_query.sql(uid=keys.token_uid, type=keys.token_type)  # type: ignore[arg-type]
    tariff_ids = _tariff_ids(cdr)
    # At most 50 parameters, so psycopg keeps the statement's parsed form (it re-parses longer ones each time).
    params = [
        *token_params, cdr.country_code, cdr.party_id,
        *_column_values(partner, cdr),
        *(getattr(keys, key) for _, _, key in _PARTY_LINKS),
        *tariff_ids,
        not cdr.fields["credit"], cdr.ocpi_id,
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_insert_linked_sql(token_select, len(tariff_ids)), params)
        inserted = cursor.fetchone()
    if inserted is None:
        stored = _stored(cdr)
        if stored is None:  # a conflict on a row nobody holds: the database would have to be corrupt
            raise IntegrityError(f"CDR {cdr.country_code}/{cdr.party_id}/{cdr.ocpi_id} was neither stored nor found")
        return _found_again(cdr, stored)
    pk, token_pk, credit_for_pk = inserted
    return StoredCdr(pk=pk, created=True, token_known=token_pk is not None, credit_for_pk=credit_for_pk)


@cache
def _value_fields() -> list[Field]:
    return [f for f in Cdr._meta.concrete_fields if not f.primary_key and f.attname not in _LINK_COLUMNS]


@cache
def _json_columns() -> frozenset[str]:
    return frozenset(f.attname for f in _value_fields() if isinstance(f, JSONField))


def _column_values(partner: Partner, cdr: CdrData) -> list[Any]:
    """The new CDR's values for `_value_fields()`, as `_unsaved(partner, cdr).save()` would write them.

    Without a model instance, and through Django's `get_db_prep_save` only for the JSON columns (which wrap
    their value for psycopg): for every other column the CDR's values are of the column's type already
    (`cdr_data`: str, Decimal, aware datetime, bool), and Django's conversion of those on PostgreSQL is the
    identity. Measured: 50 µs a CDR instead of 350 µs for the instance and the 38 conversions, a tenth of
    the Python a CDR POST costs. tests/roaming/test_cdrs_receiver.py checks that the values are Django's.
    """
    values = {
        "partner_id": partner.pk,
        "country_code": cdr.country_code,
        "party_id": cdr.party_id,
        "ocpi_id": cdr.ocpi_id,
        "raw": cdr.raw,
        "content_hash": cdr.content_hash,
        "received_at": timezone.now(),  # auto_now_add
        **cdr.fields,
    }
    json_columns = _json_columns()
    row = []
    for field in _value_fields():
        name = field.attname
        if name in values and name not in json_columns:
            row.append(values[name])
        else:  # a JSON column, or one the CDR does not fill (its default): as Django writes it
            row.append(field.get_db_prep_save(values[name] if name in values else field.get_default(), connection))
    return row


def _insert_linked_sql(token_select: str, tariff_count: int) -> str:
    return _insert_linked_sql_for(token_select, tariff_count, tuple(CDR_COMPANIONS))


@lru_cache(maxsize=32)  # keyed by how many tariffs a CDR names (a handful in practice) and the companions
def _insert_linked_sql_for(
    token_select: str, tariff_count: int, companions: tuple[tuple[type[Model], str], ...]
) -> str:
    """The INSERT of a new CDR with its links (`_PARTY_LINKS`), its tariff links, its companion rows and the
    credits waiting for it. `token_select` is `_token_link_query`'s SELECT: no row for a token not ours."""
    quote = connection.ops.quote_name
    token_columns = ", ".join(f"c{i}" for i in range(_token_link_query.width()))
    token_id, driver_id = (f"c{_token_link_query.position(name)}" for name in ("id", "driver_id"))
    party_links = ",\n        ".join(
        f"(SELECT link.id FROM {quote(model._meta.db_table)} link JOIN party USING (country_code, party_id) "  # noqa: S608 # nosec B608 - names from the models
        f"WHERE link.{quote(column(model, 'ocpi_id'))} = %s)"
        for _, model, _ in _PARTY_LINKS
    )
    columns = ", ".join(quote(name) for name in [*(f.column for f in _value_fields()), *_LINK_COLUMNS])
    values = ", ".join(["%s"] * len(_value_fields()))
    tariff_links = ""
    if tariff_count:
        tariff_links = f"""
, tariff_links AS (
    INSERT INTO {Cdr.linked_tariffs.through._meta.db_table} (cdr_id, tariff_id)
    SELECT new.id, tariff.id FROM new, party JOIN {Tariff._meta.db_table} tariff
        ON tariff.country_code = party.country_code AND tariff.party_id = party.party_id
        AND tariff.ocpi_id IN ({", ".join(["%s"] * tariff_count)})
    ON CONFLICT DO NOTHING
)"""  # noqa: S608 # nosec B608 - table names from the models
    companion_rows = "".join(
        f"""
, companion_{n} AS (
    INSERT INTO {quote(model._meta.db_table)} ({quote(column(model, foreign_key))}) SELECT id FROM new
)"""  # noqa: S608 # nosec B608 - table and column names from the models
        for n, (model, foreign_key) in enumerate(companions)
    )
    return f"""
WITH token ({token_columns}) AS ({token_select})
, party AS (SELECT %s::text AS country_code, %s::text AS party_id)
, new AS (
    INSERT INTO {_CDR} ({columns}) VALUES (
        {values},
        (SELECT {token_id} FROM token), (SELECT {driver_id} FROM token), NOT EXISTS (SELECT 1 FROM token),
        {party_links}
    )
    ON CONFLICT (country_code, party_id, ocpi_id) DO NOTHING
    RETURNING id, token_id, credit_for_id
){tariff_links}{companion_rows}
, credits AS (
    UPDATE {_CDR} waiting SET credit_for_id = new.id FROM new, party
    WHERE %s AND waiting.country_code = party.country_code AND waiting.party_id = party.party_id
        AND waiting.credit_reference_id = %s
        AND waiting.credit AND waiting.credit_for_id IS NULL
)
SELECT id, token_id, credit_for_id FROM new
"""  # noqa: S608 # nosec B608 - table and column names from the models, values as parameters


def _tariff_ids(cdr: CdrData) -> list[str]:
    return _named_tariff_ids(cdr.fields["tariffs"], cdr.fields["charging_periods"])


def _named_tariff_ids(tariffs: list[dict[str, Any]], periods: list[dict[str, Any]]) -> list[str]:
    """The tariff ids a CDR names: its own tariffs and its charging periods' `tariff_id`s."""
    named = {str(t["id"]) for t in tariffs if t.get("id")}
    named |= {str(p["tariff_id"]) for p in periods if p.get("tariff_id")}
    return sorted(named)


def _link_tariffs(cdr_pk: int, cdr: CdrData) -> None:
    """Link the CDR to the tariffs it names that we hold, in one idempotent statement."""
    _link_tariff_ids(cdr_pk, cdr.country_code, cdr.party_id, _tariff_ids(cdr))


def _link_tariff_ids(cdr_pk: int, country_code: str, party_id: str, ids: list[str]) -> None:
    if not ids:
        return
    through = Cdr.linked_tariffs.through
    sql = (
        f"INSERT INTO {through._meta.db_table} (cdr_id, tariff_id) "  # noqa: S608 # nosec B608 - names from the models
        f"SELECT %s, id FROM {Tariff._meta.db_table} WHERE country_code = %s AND party_id = %s "
        f"AND ocpi_id IN ({', '.join(['%s'] * len(ids))}) ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [cdr_pk, country_code, party_id, *ids])


def cdrs_link(*, cdr_ids: list[int]) -> None:
    """Resolve the links a CDR may have missed on arrival: its location and the tariffs it names.

    A CPO may send a CDR before the location or tariffs it refers to (or we may hold those only after the
    next sync). Idempotent and cheap for a batch; billing calls it before re-pricing a CDR that waited.
    """
    rows = Cdr.objects.filter(pk__in=cdr_ids).values_list(
        "pk", "country_code", "party_id", "location_id", "cdr_location", "tariffs", "charging_periods"
    )
    for pk, country_code, party_id, location_id, cdr_location, tariffs, periods in rows:
        _link_tariff_ids(pk, country_code, party_id, _named_tariff_ids(tariffs, periods))
        if location_id is None:
            _cdrs_link_locations([(country_code, party_id, str(cdr_location.get("id", "")))], cdr_ids=[pk])


def cdrs_link_locations(*, keys: list[ObjectKey]) -> int:
    """Link the CDRs that arrived before their location, now that we hold it; answers how many."""
    return _cdrs_link_locations(keys)


def _cdrs_link_locations(keys: list[ObjectKey], cdr_ids: list[int] | None = None) -> int:
    linked = 0
    by_party: dict[tuple[str, str], list[str]] = {}
    for country_code, party_id, ocpi_id in keys:
        by_party.setdefault((country_code, party_id), []).append(ocpi_id)
    for (country_code, party_id), location_ids in by_party.items():
        # The waiting CDRs first, on the partial index cdr_location_unlinked (only CDRs still waiting for their
        # location): a sync page names a thousand locations and CDRs waiting for one are rare, so the
        # locations are looked up only for those. Looked up first, the page's locations cost a scan of every
        # stored location of the party per page when the statistics lag (see `stored_by_key`).
        waiting = Cdr.objects.filter(
            country_code=country_code, party_id=party_id, location__isnull=True, cdr_location__id__in=location_ids
        )
        if cdr_ids is not None:
            waiting = waiting.filter(pk__in=cdr_ids)
        # The JSON key by annotation: `values_list("cdr_location__id")` makes Django raise and catch a FieldError
        # inside, whose traceback holds the caller's frames in a reference cycle; on a sync page that kept the
        # whole page's records alive until the garbage collector ran (12 % of a 200,000-location pull's time
        # went to the collector, most of it scanning such pages).
        found = list(
            waiting.annotate(location_ocpi_id=KeyTextTransform("id", "cdr_location")).values_list(
                "pk", "location_ocpi_id"
            )
        )
        if not found:
            continue
        locations = dict(
            Location.objects.filter(
                country_code=country_code, party_id=party_id, ocpi_id__in={ocpi_id for _, ocpi_id in found}
            ).values_list("ocpi_id", "pk")
        )
        by_location: dict[int, list[int]] = {}
        for pk, ocpi_id in found:
            if ocpi_id in locations:
                by_location.setdefault(locations[ocpi_id], []).append(pk)
        for location_pk, pks in by_location.items():
            linked += Cdr.objects.filter(pk__in=pks, location__isnull=True).update(location_id=location_pk)
    return linked


def cdrs_upsert(*, partner: Partner, items: list[CdrData]) -> UpsertResult:
    """A pull-sync page of CDRs through the same idempotent store as the POST (in one transaction)."""
    result = UpsertResult()
    with transaction.atomic():
        for item in items:
            result.keys.add((item.country_code, item.party_id, item.ocpi_id))
            stored = cdr_store(partner=partner, cdr=item)
            if stored.created:
                result.created += 1
            elif stored.conflict:
                result.stale += 1
            else:
                result.unchanged += 1
    return result
