"""Storing the CDRs CPOs send us, pushed (POST) or pulled: once, as received, never changed.

`cdr_store` is idempotent: a CDR whose (country_code, party_id, id) we already hold creates nothing,
whether it comes again by POST (a retry, a duplicate delivery), in a pull page, or twice at the same
moment (the unique constraint decides; the loser's insert fails inside a savepoint and it answers with
the stored row). A CDR with the id of a stored one but other content is NOT stored: CDRs are immutable
and a CPO corrects one with a credit CDR and a new CDR under a new id. The first one stays, and the
caller is told about the conflict.

Links are resolved on the way in: token and driver (an unknown token is flagged, the CDR kept),
location, session (also later, when the session arrives after its CDR) and, for a credit CDR, the CDR it
credits (also later, should the original arrive after its credit).
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, IntegerField, QuerySet, Subquery, Value

from drivers.models import Token
from roaming.models import Cdr, ChargingSession, Location, Partner
from roaming.models.cdrs import cdr_url
from roaming.ocpi.v2_2_1.mapping import CdrData

from .common import UpsertResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredCdr:
    pk: int
    created: bool
    #: A CDR with this id but other content was stored before; it was kept and this one refused.
    conflict: bool = False

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


def _pk_of(queryset: QuerySet[Any], field: str = "pk") -> Subquery:
    return Subquery(queryset.values(field)[:1])


def _links(partner: Partner, cdr: CdrData) -> dict[str, Any]:
    """Whether we hold the CDR already, and every row a new one links to, in one round trip: a CDR POST
    is on the hot path, and these are seven small index look-ups.

    The token is ours only when the `cdr_token` is under our party (see `token_links`).
    """
    fields = cdr.fields
    cdrs = Cdr.objects.filter(country_code=cdr.country_code, party_id=cdr.party_id)
    same = cdrs.filter(ocpi_id=cdr.ocpi_id)
    nothing = Value(None, output_field=IntegerField())
    ours = cdr.token_party == (settings.OCPI_COUNTRY_CODE.upper(), settings.OCPI_PARTY_ID.upper())
    token = Token.objects.filter(uid=fields["token_uid"], type=fields["token_type"])
    credit_reference = fields["credit_reference_id"] if fields["credit"] else ""
    return dict(
        Partner.objects.filter(pk=partner.pk)
        .values(
            stored_pk=_pk_of(same),
            stored_hash=_pk_of(same, "content_hash"),
            token_pk=_pk_of(token) if ours else nothing,
            driver_pk=_pk_of(token, "driver_id") if ours else nothing,
            session_pk=(
                _pk_of(
                    ChargingSession.objects.filter(
                        country_code=cdr.country_code, party_id=cdr.party_id, ocpi_id=fields["ocpi_session_id"]
                    )
                )
                if fields["ocpi_session_id"]
                else nothing
            ),
            location_pk=_pk_of(
                Location.objects.filter(
                    country_code=cdr.country_code, party_id=cdr.party_id, ocpi_id=fields["cdr_location"]["id"]
                )
            ),
            credit_for_pk=_pk_of(cdrs.filter(ocpi_id=credit_reference)) if credit_reference else nothing,
            # Credits that came before this, their original (e.g. the original was missed and pulled later).
            credits_waiting=Exists(cdrs.filter(credit_reference_id=cdr.ocpi_id, credit=True, credit_for__isnull=True)),
        )
        .get()
    )


def cdr_store(*, partner: Partner, cdr: CdrData) -> StoredCdr:
    """Store a CDR unless we hold it already (see the module docstring)."""
    links = _links(partner, cdr)
    if links["stored_pk"] is not None:
        return _existing(cdr, (links["stored_pk"], links["stored_hash"]))

    fields = cdr.fields
    unknown_token = links["token_pk"] is None
    # A lone INSERT needs no transaction; a savepoint only inside the caller's transaction (so that a
    # duplicate does not break it), and a transaction when the credits waiting for this CDR are linked too.
    needs_block = links["credits_waiting"] or transaction.get_connection().in_atomic_block
    try:
        with transaction.atomic() if needs_block else nullcontext():
            row = Cdr.objects.create(
                partner=partner,
                country_code=cdr.country_code,
                party_id=cdr.party_id,
                ocpi_id=cdr.ocpi_id,
                session_id=links["session_pk"],
                token_id=links["token_pk"],
                driver_id=links["driver_pk"],
                unknown_token=unknown_token,
                location_id=links["location_pk"],
                credit_for_id=links["credit_for_pk"],
                raw=cdr.raw,
                content_hash=cdr.content_hash,
                **fields,
            )
            if links["credits_waiting"] and not row.credit:
                Cdr.objects.filter(
                    country_code=row.country_code,
                    party_id=row.party_id,
                    credit_reference_id=row.ocpi_id,
                    credit=True,
                    credit_for__isnull=True,
                ).update(credit_for=row)
    except IntegrityError:
        stored = _stored(cdr)
        if stored is None:
            raise
        return _existing(cdr, stored)  # the same CDR stored at the same moment by another request
    if unknown_token:
        logger.warning(
            "CDR %s/%s/%s is for a token we don't know (%s %s): stored and flagged",
            cdr.country_code,
            cdr.party_id,
            cdr.ocpi_id,
            fields["token_type"],
            fields["token_uid"],
        )
    if row.credit and links["credit_for_pk"] is None:
        logger.warning("Credit CDR %s credits %r, which we don't hold", row, row.credit_reference_id)
    return StoredCdr(pk=row.pk, created=True)


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
