"""Our tokens towards CPOs: real-time authorization, and the durable push of every token change.

Push: `drivers.TokenChange` is an append-only log and each CPO has a cursor in it (`TokenPushCursor`). A push
reads the changes after the cursor in order, PUTs each changed token's current state to the CPO's Tokens
Receiver and advances the cursor after every success. It stops at the first failure, so the CPO never sees a
later state before an earlier one, and it is retried with backoff until delivered. Repeated changes of one token
within a batch are sent once (its current state), in the order of their first appearance.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from drivers.models import Token, TokenChange
from drivers.selectors import (
    CHARGE_REFUSALS,
    UNKNOWN_TOKEN,
    Verdict,
    token_changes_after,
    token_with_verdict,
    token_with_verdict_query,
    uid_key,
    verdict,
)
from emsp.lib.tasks import enqueue
from roaming.models import Authorization, Partner, PartnerEndpoint, PartnerRole, TokenPushCursor
from roaming.models.authorizations import new_authorization_reference
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.versions import wire_for

logger = logging.getLogger("roaming.tokens")

# Backoff after failed pushes, by number of failures in a row (the last one repeats).
TOKEN_PUSH_RETRY_DELAYS = (30, 60, 120, 300, 600, 1800)  # seconds
# A running push holds its cursor this long (renewed after every token), so two pushes never overlap.
TOKEN_PUSH_LEASE_SECONDS = 300
TOKEN_PUSH_BATCH = 500


# --- Real-time authorization ----------------------------------------------------------------------------


def token_authorize(
    *, partner: Partner, uid: str, type: str, location_id: str = "", evse_uids: Iterable[str] = ()
) -> tuple[Token | None, Verdict, Authorization]:
    """Decide whether our token `uid` may charge now and record the decision and its reason under a fresh
    reference. A token we do not know (None) is refused and recorded too, under the uid and type asked about.

    This runs while a driver waits at the charger. On PostgreSQL it is one statement: the token and its
    driver are read, the charging rule applied and the authorization inserted in a single round trip.
    """
    fields = {
        "partner": partner,
        "token_uid": uid[:36],  # an OCPI uid is at most 36 characters; a longer one matches no token
        "token_type": type,
        "location_id": location_id,
        "evse_uids": list(evse_uids),
        "source": Authorization.Source.REALTIME,
    }
    if connection.vendor == "postgresql":
        return _authorize_in_one_statement(uid, type, **fields)
    return _authorize_with_orm(uid, type, **fields)


def _authorize_with_orm(uid: str, type: str, **fields: Any) -> tuple[Token | None, Verdict, Authorization]:
    """The same in two statements, on databases without INSERT in a WITH (SQLite)."""
    token, decided = token_with_verdict(uid, type) or (None, UNKNOWN_TOKEN)
    authorization = Authorization.objects.create(token=token, allowed=decided.allowed, reason=decided.why, **fields)
    return token, decided, authorization


# The statement's CASEs: refusal index -> the `allowed` and the `reason` stored with the authorization.
_ALLOWED_BY_REFUSAL = [value for i, (refused, _) in enumerate(CHARGE_REFUSALS) for value in (i, refused.allowed)]
_REASON_BY_REFUSAL = [value for i, (refused, _) in enumerate(CHARGE_REFUSALS) for value in (i, refused.why)]
_ALLOWED_STATEMENT_PARAMS = [UNKNOWN_TOKEN.allowed, *_ALLOWED_BY_REFUSAL, verdict(None).allowed]
_REASON_STATEMENT_PARAMS = [UNKNOWN_TOKEN.why, *_REASON_BY_REFUSAL, verdict(None).why]


def _authorize_in_one_statement(uid: str, type: str, **fields: Any) -> tuple[Token | None, Verdict, Authorization]:
    query = token_with_verdict_query
    select, params = query.sql(uid=uid_key(uid), type=type)
    reference = new_authorization_reference()
    evse_uids = Authorization._meta.get_field("evse_uids").get_db_prep_save(fields["evse_uids"], connection)
    token_id = query.position("id")
    with connection.cursor() as cursor:
        cursor.execute(
            _authorize_statement(select, query.width(), token_id, query.position("refusal")),
            [
                *params,
                fields["partner"].pk,
                fields["token_uid"],
                fields["token_type"],
                reference,
                *_ALLOWED_STATEMENT_PARAMS,
                *_REASON_STATEMENT_PARAMS,
                fields["location_id"],
                evse_uids,
                fields["source"],
            ],
        )
        row = cursor.fetchone()
    token: Token | None = None
    decided = UNKNOWN_TOKEN
    if row[token_id] is not None:
        token = query.instances([row[:-2]])[0]
        decided = verdict(token.refusal)  # type: ignore[attr-defined]
    authorization = Authorization(
        pk=row[-2],
        created_at=row[-1],
        token=token,
        reference=reference,
        allowed=decided.allowed,
        reason=decided.why,
        **fields,
    )
    authorization._state.adding, authorization._state.db = False, connection.alias  # it is stored
    return token, decided, authorization


@lru_cache(maxsize=4)
def _authorize_statement(select: str, width: int, token_id: int, refusal: int) -> str:
    """WITH token AS (the token, its driver and its refusal: no row for a token we do not know), recorded AS
    (INSERT the authorization, its `allowed` and `reason` derived from the refusal by CASEs, ... SELECT FROM one
    row LEFT JOIN token) SELECT token's columns (NULLs for an unknown token) and the authorization's id and
    created_at: always one row."""
    q = connection.ops.quote_name
    table = q(Authorization._meta.db_table)
    columns = ", ".join(f"c{i}" for i in range(width))
    column = {field.name: field.column for field in Authorization._meta.concrete_fields}
    inserted = ", ".join(
        q(column[name])
        for name in (
            "partner",
            "token",
            "token_uid",
            "token_type",
            "reference",
            "allowed",
            "reason",
            "location_id",
            "evse_uids",
            "source",
            "created_at",
        )
    )
    # Unknown token first, then the refusal that holds, else allowed (a NULL refusal matches no WHEN).
    by_refusal = (
        f"CASE WHEN token.c{token_id} IS NULL THEN %s "
        + " ".join(f"WHEN token.c{refusal} = %s THEN %s" for _ in CHARGE_REFUSALS)
        + " ELSE %s END"
    )
    return f"""
WITH token ({columns}) AS ({select}),
recorded AS (
    INSERT INTO {table} ({inserted})
    SELECT %s, token.c{token_id}, %s, %s, %s, {by_refusal}, {by_refusal}, %s, %s, %s, CURRENT_TIMESTAMP
    FROM (SELECT 1) AS asked LEFT JOIN token ON TRUE
    RETURNING {q(column["id"])}, {q(column["created_at"])}
)
SELECT token.*, recorded.{q(column["id"])}, recorded.{q(column["created_at"])} FROM recorded LEFT JOIN token ON TRUE
"""  # noqa: S608 # nosec B608 - table and column names from the models, values as parameters


# --- Push to CPOs ---------------------------------------------------------------------------------------


@dataclass
class PushOutcome:
    sent: int = 0  # tokens PUT successfully
    error: str = ""
    permanent: bool = False  # the CPO refused (4xx / OCPI 2xxx): retrying soon will not help
    retry_in: int | None = None  # seconds until the next attempt is due, after a failure
    skipped: str = ""  # why nothing was tried


def token_push_partners() -> QuerySet[Partner]:
    """Registered partners with a CPO role and a Tokens Receiver endpoint: those that get our tokens."""
    return Partner.objects.filter(
        Q(status=Partner.Status.REGISTERED),
        Q(roles__role=PartnerRole.Role.CPO),
        Q(endpoints__module="tokens", endpoints__role=PartnerEndpoint.InterfaceRole.RECEIVER),
    ).distinct()


def token_push_cursor(partner: Partner) -> TokenPushCursor:
    """The partner's position in the token change log; 0 (everything) for a new or renewed registration."""
    cursor, created = TokenPushCursor.objects.get_or_create(
        partner=partner, defaults={"registered_at": partner.registered_at}
    )
    if not created and cursor.registered_at != partner.registered_at:
        # Registered afresh: the CPO may have forgotten our tokens (or be a different platform altogether).
        cursor.last_change_id = 0
        cursor.registered_at = partner.registered_at
        cursor.failures = 0
        cursor.last_error = ""
        cursor.next_attempt_at = None
        cursor.save()
    return cursor


def token_changes_enqueue(*, only_when_due: bool = False) -> int:
    """Start a push for every partner that takes our tokens (after commit). Returns how many."""
    from roaming.tasks import push_tokens_task  # tasks import this module

    partners = list(token_push_partners().values_list("pk", flat=True))
    # Changes younger than TOKEN_CHANGE_SETTLE_SECONDS are not read yet: wait that long.
    countdown = settings.TOKEN_CHANGE_SETTLE_SECONDS + 1 if settings.TOKEN_CHANGE_SETTLE_SECONDS else 0
    for partner_id in partners:
        enqueue(push_tokens_task, partner_id, only_when_due, countdown=countdown)
    return len(partners)


def _retry_delay(failures: int) -> int:
    return TOKEN_PUSH_RETRY_DELAYS[min(max(failures, 1), len(TOKEN_PUSH_RETRY_DELAYS)) - 1]


def _take_lease(cursor: TokenPushCursor) -> bool:
    now = timezone.now()
    taken = (
        TokenPushCursor.objects.filter(pk=cursor.pk)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + timedelta(seconds=TOKEN_PUSH_LEASE_SECONDS), last_attempt_at=now)
    )
    return taken == 1


def push_token_changes(*, partner: Partner, only_when_due: bool = False, limit: int = TOKEN_PUSH_BATCH) -> PushOutcome:
    """Send the partner every token change it has not received yet, in order; see the module docstring.

    `only_when_due` respects the backoff after failures (periodic runs); a direct call pushes at once.
    """
    base_url = partner.endpoint_url("tokens", PartnerEndpoint.InterfaceRole.RECEIVER)
    if partner.status != Partner.Status.REGISTERED or not base_url:
        return PushOutcome(skipped="not registered or no tokens Receiver endpoint")
    cursor = token_push_cursor(partner)
    if only_when_due and cursor.next_attempt_at and cursor.next_attempt_at > timezone.now():
        return PushOutcome(skipped="backing off after a failure")
    if not _take_lease(cursor):
        return PushOutcome(skipped="another push to this partner is running")
    try:
        return _push(partner, cursor, base_url.rstrip("/"), limit)
    finally:
        TokenPushCursor.objects.filter(pk=cursor.pk).update(locked_until=None)


def token_push_skip_head(*, partner: Partner) -> Token | None:
    """Move the partner's cursor past the first token it has not received: for a token the CPO refuses
    for good (OCPI 2xxx), which would otherwise hold up every later change, blocks of stolen cards included.
    Staff decide; the token is sent again at its next change. Returns the token skipped, if any."""
    cursor = token_push_cursor(partner)
    ordered = _in_order(token_changes_after(cursor.last_change_id, limit=TOKEN_PUSH_BATCH))
    if not ordered or ordered[0][1] is None:
        return None  # nothing pending (or its changes are still settling)
    token, upto = ordered[0]
    TokenPushCursor.objects.filter(pk=cursor.pk, last_change_id=cursor.last_change_id).update(
        last_change_id=upto, failures=0, last_error="", next_attempt_at=None
    )
    logger.warning("token push to partner %s: token %s skipped by staff", partner.pk, token.uid)
    return token


def _in_order(changes: list[TokenChange]) -> list[tuple[Token, int | None]]:
    """Each changed token once, in order of first appearance, with how far the cursor may move once it and
    every token before it were delivered (None: not past any change yet)."""
    rank: dict[int, int] = {}
    tokens: list[Token] = []
    for change in changes:
        if change.token_id not in rank:
            rank[change.token_id] = len(tokens)
            tokens.append(change.token)
    reach: list[int | None] = [None] * len(tokens)
    highest = -1
    for change in changes:
        highest = max(highest, rank[change.token_id])
        reach[highest] = change.pk  # all changes up to here concern tokens 0..highest
    out: list[tuple[Token, int | None]] = []
    position: int | None = None
    for token, upto in zip(tokens, reach, strict=True):
        position = upto if upto is not None else position
        out.append((token, position))
    return out


def _push(partner: Partner, cursor: TokenPushCursor, base_url: str, limit: int) -> PushOutcome:
    client = OcpiClient.for_partner(partner)
    wire = wire_for(partner)  # 2.2.1 says ?type= on the URL; 2.1.1 has no such parameter
    party = f"{quote(settings.OCPI_COUNTRY_CODE)}/{quote(settings.OCPI_PARTY_ID)}"
    outcome = PushOutcome()
    position = cursor.last_change_id
    while True:
        changes = token_changes_after(position, limit=limit)
        if not changes:
            break
        for token, upto in _in_order(changes):
            url = f"{base_url}/{wire.token_push_path(party, token)}"
            try:
                client.put(url, wire.token_to_ocpi(token), module="tokens")
            except OcpiClientError as exc:
                return _failed(cursor, outcome, exc)
            outcome.sent += 1
            now = timezone.now()
            fields: dict[str, object] = {"locked_until": now + timedelta(seconds=TOKEN_PUSH_LEASE_SECONDS)}
            if upto is not None and upto > position:
                position = upto
                fields.update(
                    last_change_id=position, failures=0, last_error="", last_success_at=now, next_attempt_at=None
                )
            TokenPushCursor.objects.filter(pk=cursor.pk).update(**fields)
        if len(changes) < limit:
            break
    if outcome.sent:
        logger.info("pushed %d token(s) to partner %s", outcome.sent, partner.pk)
    return outcome


def _failed(cursor: TokenPushCursor, outcome: PushOutcome, exc: OcpiClientError) -> PushOutcome:
    cursor.refresh_from_db(fields=["failures"])
    failures = cursor.failures + 1
    delay = _retry_delay(failures)
    TokenPushCursor.objects.filter(pk=cursor.pk).update(
        failures=failures,
        last_error=str(exc)[:2000],
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )
    logger.warning("token push to partner %s failed (%d in a row): %s", cursor.partner_id, failures, exc)
    outcome.error, outcome.permanent, outcome.retry_in = str(exc), exc.permanent, delay
    return outcome
