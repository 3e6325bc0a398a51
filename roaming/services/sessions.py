"""Writing what CPOs tell us about charging sessions: pushes (PUT/PATCH) and pull-sync pages alike.

The rules:

* An update older than what we hold (`last_updated`) is not applied. One with the SAME `last_updated`
  is applied (a CPO may send PENDING and ACTIVE with one timestamp), unless it would move the session
  back in its lifecycle (ACTIVE → PENDING, COMPLETED → ACTIVE): at an equal timestamp that can only be
  a reordered or repeated delivery.
* PUT replaces the whole session, charging periods included. PATCH merges and appends the charging
  periods it carries (spec), skipping periods already stored: a repeated PATCH must not count energy
  twice.
* The token (hence the driver) and the location are linked when the session is written. A session
  for a token we don't know is stored all the same, with no token.

`sessions_upsert` is the single write path for whole sessions, whether one comes by PUT or a page of
them by a pull sync.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Upper

from drivers.models import Token
from drivers.selectors import token_get, uid_key
from roaming.models import Cdr, ChargingSession, Location, Partner, SessionStatus
from roaming.records import SessionChanges, SessionData

from .common import ObjectKey, Party, StaleUpdate, UnknownObject, UpsertResult, lock_objects

#: (country_code, party_id, uid, type) of a `cdr_token`: the eMSP party that issued it, and the token.
TokenKey = tuple[str, str, str, str]

_SESSION_FIELDS = (
    "status",
    "start_date_time",
    "end_date_time",
    "kwh",
    "auth_method",
    "authorization_reference",
    "ocpi_location_id",
    "evse_uid",
    "connector_id",
    "currency",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "token_uid",
    "token_type",
    "contract_id",
    "charging_periods",
    "extra",
    "last_updated",
)

# Position in the lifecycle; statuses we don't know have none and are never "going back".
_STAGE: dict[str, int] = {
    SessionStatus.PENDING: 0,
    SessionStatus.RESERVATION: 0,
    SessionStatus.ACTIVE: 1,
    SessionStatus.COMPLETED: 2,
    SessionStatus.INVALID: 2,
}


# --- shared with the CDRs ------------------------------------------------------------------------------


def party_condition(keys: Iterable[ObjectKey], id_field: str = "ocpi_id") -> Q:
    """`keys` as one query condition, grouped by party. Callers must not pass an empty `keys`."""
    by_party: dict[Party, set[str]] = defaultdict(set)
    for country_code, party_id, object_id in keys:
        by_party[(country_code, party_id)].add(object_id)
    condition = Q()
    for (country_code, party_id), ids in by_party.items():
        condition |= Q(country_code=country_code, party_id=party_id, **{f"{id_field}__in": sorted(ids)})
    return condition


def is_our_party(party: Party) -> bool:
    """Whether a `cdr_token`'s issuer is us.

    OCPI identifies a token by its issuer's party and its uid: a `cdr_token` under another eMSP's party
    is never taken for ours, even if the uid matches (we would bill our driver for someone else's charge).
    """
    return party == (settings.OCPI_COUNTRY_CODE.upper(), settings.OCPI_PARTY_ID.upper())


def our_token_key(token_party: Party, uid: str, type: str) -> tuple[str, str] | None:
    """What our token for a `cdr_token` is matched by (`drivers.selectors.token_match`): its `uid_key` and type;
    None when the token is not ours (`is_our_party`). Sessions and CDRs link their token by this one rule."""
    return (uid_key(uid), type) if is_our_party(token_party) else None


def tokens_named_by_contract(items: Iterable[tuple[Party, dict[str, Any]]]) -> None:
    """Fill in `token_uid` and `token_type` of the sessions' or CDRs' `fields` that name our token by its contract
    id only (OCPI 2.1.1's `auth_id`: no uid, no type), so that the one token rule (`our_token_key`) links them.
    One query for them all; a contract id we never issued leaves the token unknown, as an unknown uid does."""
    named = [
        fields for party, fields in items if not fields["token_uid"] and fields["contract_id"] and is_our_party(party)
    ]
    if not named:
        return
    wanted = {fields["contract_id"].upper() for fields in named}
    found = {
        contract.upper(): (uid, type)
        for contract, uid, type in Token.objects.alias(contract_key=Upper("contract_id"))
        .filter(contract_key__in=sorted(wanted))
        .values_list("contract_id", "uid", "type")
    }
    for fields in named:
        token = found.get(fields["contract_id"].upper())
        if token:
            fields["token_uid"], fields["token_type"] = token


def token_links(keys: Iterable[TokenKey]) -> dict[TokenKey, Token | None]:
    """Our tokens for the `cdr_token`s of sessions (`our_token_key`)."""
    links = {}
    for key in set(keys):
        match = our_token_key(key[:2], key[2], key[3])
        links[key] = token_get(*match) if match else None
    return links


def location_pks(keys: Iterable[ObjectKey]) -> dict[ObjectKey, int]:
    """Our Location rows for (country_code, party_id, CPO location id); unknown ones are absent."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = Location.objects.filter(party_condition(wanted)).values_list("pk", "country_code", "party_id", "ocpi_id")
    return {(cc, pid, ocpi_id): pk for pk, cc, pid, ocpi_id in rows}


def _token_key(token_party: Party, fields: dict[str, Any]) -> TokenKey:
    return (*token_party, fields["token_uid"], fields["token_type"])


# --- the rules -------------------------------------------------------------------------------------------


def is_stale(*, last_updated: datetime, status: str | None, stored_updated: datetime, stored_status: str) -> bool:
    """Whether an update must not be applied over what we hold (see the module docstring)."""
    if last_updated != stored_updated:
        return last_updated < stored_updated
    new, old = _STAGE.get(status) if status else None, _STAGE.get(stored_status)
    return new is not None and old is not None and new < old


def _canonical(period: dict[str, Any]) -> str:
    return json.dumps(period, sort_keys=True, separators=(",", ":"), default=str)


def append_periods(stored: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PATCH semantics for charging periods: appended, except exact repeats of periods we hold."""
    seen = {_canonical(p) for p in stored}
    result = list(stored)
    for period in new:
        key = _canonical(period)
        if key not in seen:
            seen.add(key)
            result.append(period)
    return result


# --- whole sessions (PUT, pull sync) ---------------------------------------------------------------------


def sessions_upsert(*, partner: Partner, items: list[SessionData]) -> UpsertResult:
    """Create or replace sessions in one transaction; stale and unchanged ones are skipped."""
    result = UpsertResult()
    latest: dict[ObjectKey, SessionData] = {}
    for item in items:  # the same session twice in one batch: keep the newest (the later one if equal)
        key = (item.country_code, item.party_id, item.ocpi_id)
        result.keys.add(key)
        if key not in latest or item.last_updated >= latest[key].last_updated:
            latest[key] = item
    if not latest:
        return result

    with transaction.atomic():
        lock_objects(ChargingSession, latest)  # so what is read below is still what we hold when we write
        existing = {
            (r["country_code"], r["party_id"], r["ocpi_id"]): r
            for r in ChargingSession.objects.filter(party_condition(latest)).values(
                "country_code", "party_id", "ocpi_id", "content_hash", "last_updated", "status"
            )
        }
        to_write: list[SessionData] = []
        created: list[ObjectKey] = []
        for key, item in latest.items():
            current = existing.get(key)
            if current is None:
                result.created += 1
                created.append(key)
            elif is_stale(
                last_updated=item.last_updated,
                status=item.fields["status"],
                stored_updated=current["last_updated"],
                stored_status=current["status"],
            ):
                result.stale += 1
                continue
            elif item.content_hash == current["content_hash"]:
                result.unchanged += 1
                continue
            else:
                result.updated += 1
            to_write.append(item)
        if to_write:
            _write_sessions(partner, to_write)
        if created:
            _link_waiting_cdrs(created)
    return result


def _write_sessions(partner: Partner, items: list[SessionData]) -> None:
    tokens_named_by_contract((i.token_party, i.fields) for i in items)
    tokens = token_links(_token_key(i.token_party, i.fields) for i in items)
    locations = location_pks((i.country_code, i.party_id, i.fields["ocpi_location_id"]) for i in items)
    rows = []
    for item in items:
        token = tokens[_token_key(item.token_party, item.fields)]
        rows.append(
            ChargingSession(
                partner=partner,
                country_code=item.country_code,
                party_id=item.party_id,
                ocpi_id=item.ocpi_id,
                content_hash=item.content_hash,
                token=token,
                driver_id=token.driver_id if token else None,
                location_id=locations.get((item.country_code, item.party_id, item.fields["ocpi_location_id"])),
                **item.fields,
            )
        )
    ChargingSession.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=("country_code", "party_id", "ocpi_id"),
        update_fields=(*_SESSION_FIELDS, "token", "driver", "location", "content_hash", "updated_at"),
        batch_size=1000,
    )


def _link_waiting_cdrs(keys: list[ObjectKey]) -> None:
    """CDRs that arrived before their session (e.g. pulled first) get linked when it arrives."""
    waiting = list(
        Cdr.objects.filter(party_condition(keys, "ocpi_session_id"), session__isnull=True).values_list(
            "pk", "country_code", "party_id", "ocpi_session_id"
        )
    )
    if not waiting:
        return
    sessions = {
        (cc, pid, ocpi_id): pk
        for pk, cc, pid, ocpi_id in ChargingSession.objects.filter(party_condition(keys)).values_list(
            "pk", "country_code", "party_id", "ocpi_id"
        )
    }
    for pk, cc, pid, session_id in waiting:
        Cdr.objects.filter(pk=pk).update(session_id=sessions[(cc, pid, session_id)])


# --- PATCH -----------------------------------------------------------------------------------------------


def session_patch(*, party: Party, session_id: str, changes: SessionChanges, last_updated: datetime) -> None:
    """Merge a PATCH into a stored session; charging periods are appended."""
    with transaction.atomic():
        lock_objects(ChargingSession, [(party[0], party[1], session_id)])  # PUTs of it wait, see sessions_upsert
        session = (
            ChargingSession.objects.select_for_update()
            .filter(country_code=party[0], party_id=party[1], ocpi_id=session_id)
            .first()
        )
        if session is None:
            raise UnknownObject(f"Unknown session {party[0]}/{party[1]}/{session_id}: PUT it first.")
        if is_stale(
            last_updated=last_updated,
            status=changes.fields.get("status"),
            stored_updated=session.last_updated,
            stored_status=session.status,
        ):
            raise StaleUpdate(
                f"Session {session_id}: what we hold is newer "
                f"({session.status}, last_updated {session.last_updated:%Y-%m-%dT%H:%M:%SZ})."
            )
        for name, value in changes.fields.items():
            setattr(session, name, value)
        if changes.extra:
            session.extra = {**session.extra, **changes.extra}
        session.charging_periods = append_periods(session.charging_periods, changes.charging_periods)
        if changes.token_party is not None:
            tokens_named_by_contract([(changes.token_party, changes.fields)])
            key = _token_key(changes.token_party, changes.fields)
            token = token_links([key])[key]
            session.token = token
            session.driver_id = token.driver_id if token else None
        if "ocpi_location_id" in changes.fields:
            session.location_id = location_pks([(party[0], party[1], session.ocpi_location_id)]).get(
                (party[0], party[1], session.ocpi_location_id)
            )
        session.last_updated = last_updated
        session.content_hash = ""  # no longer the hash of a whole object we received
        session.save()
