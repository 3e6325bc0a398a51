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
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from roaming.models import Cdr, ChargingSession, Partner
from roaming.models.cdrs import cdr_url
from roaming.ocpi.v2_2_1.mapping import CdrData

from .common import UpsertResult
from .sessions import location_pks, token_links

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


def cdr_store(*, partner: Partner, cdr: CdrData) -> StoredCdr:
    """Store a CDR unless we hold it already (see the module docstring)."""
    stored = _stored(cdr)
    if stored is not None:
        return _existing(cdr, stored)

    fields = cdr.fields
    token_key = (*cdr.token_party, fields["token_uid"], fields["token_type"])
    token = token_links([token_key])[token_key]
    location_key = (cdr.country_code, cdr.party_id, fields["cdr_location"]["id"])
    session_pk = (
        ChargingSession.objects.filter(
            country_code=cdr.country_code, party_id=cdr.party_id, ocpi_id=fields["ocpi_session_id"]
        )
        .values_list("pk", flat=True)
        .first()
        if fields["ocpi_session_id"]
        else None
    )
    credit_for_pk = (
        Cdr.objects.filter(country_code=cdr.country_code, party_id=cdr.party_id, ocpi_id=fields["credit_reference_id"])
        .values_list("pk", flat=True)
        .first()
        if fields["credit"] and fields["credit_reference_id"]
        else None
    )
    try:
        with transaction.atomic():  # a savepoint when called inside a transaction
            row = Cdr.objects.create(
                partner=partner,
                country_code=cdr.country_code,
                party_id=cdr.party_id,
                ocpi_id=cdr.ocpi_id,
                session_id=session_pk,
                token=token,
                driver_id=token.driver_id if token else None,
                unknown_token=token is None,
                location_id=location_pks([location_key]).get(location_key),
                credit_for_id=credit_for_pk,
                raw=cdr.raw,
                content_hash=cdr.content_hash,
                **fields,
            )
            if not row.credit:
                # Credits that came before their original (e.g. the original was missed and pulled later).
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
    if token is None:
        logger.warning(
            "CDR %s/%s/%s is for a token we don't know (%s %s): stored and flagged",
            cdr.country_code,
            cdr.party_id,
            cdr.ocpi_id,
            fields["token_type"],
            fields["token_uid"],
        )
    if row.credit and credit_for_pk is None:
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
