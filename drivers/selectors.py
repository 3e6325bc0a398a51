"""Reads on drivers and tokens, including the rule that decides whether a token may charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Case, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Now, Upper
from django.utils import timezone

from emsp.lib.prepared import PreparedQuery

from .models import ChargeReason, Driver, Token, TokenChange


class Allowed:
    """The verdicts of the charging rule, named as OCPI's AllowedType."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


@dataclass(frozen=True)
class Verdict:
    allowed: str
    reason: str  # for the driver (OCPI `info`)
    why: str  # for support, a ChargeReason: OCPI's `allowed` does not tell a suspended driver from a new card


# The rule that decides whether a token may charge now: the first of these that holds refuses it, and a
# token none of them holds for is allowed (valid, active, not expired, driver in good standing and under
# the credit limit if one is set). It is a database expression, so real-time authorization can decide and
# record the decision in one statement; every verdict comes from here.
CHARGE_REFUSALS: tuple[tuple[Verdict, Q], ...] = (
    (
        Verdict(Allowed.BLOCKED, "This card is blocked.", ChargeReason.BLOCKED),
        Q(status__in=[Token.Status.BLOCKED, Token.Status.LOST]),
    ),
    (
        Verdict(Allowed.EXPIRED, "This card has expired.", ChargeReason.EXPIRED),
        Q(status=Token.Status.EXPIRED) | Q(expires_at__lte=Now()),
    ),
    (
        Verdict(Allowed.NOT_ALLOWED, "This card is not activated yet.", ChargeReason.NOT_ACTIVATED),
        ~Q(status=Token.Status.ACTIVE),
    ),
    (
        Verdict(Allowed.NOT_ALLOWED, "Your account is suspended; please contact us.", ChargeReason.DRIVER_SUSPENDED),
        ~Q(driver__standing=Driver.Standing.GOOD),
    ),
    (
        Verdict(Allowed.NO_CREDIT, "Your credit limit is reached.", ChargeReason.CREDIT_LIMIT),
        # Unpaid invoices plus priced sessions not invoiced yet (`billing.balances` keeps both).
        Q(driver__credit_limit__isnull=False)
        & Q(driver__credit_limit__lte=F("driver__outstanding") + F("driver__uninvoiced")),
    ),
)
_MAY_CHARGE = Verdict(Allowed.ALLOWED, "", ChargeReason.ALLOWED)
# No token has this uid and type: nothing may charge with it (OCPI answers 2004 Unknown Token; the decision is
# recorded all the same, for support and for the partner's refusal figures).
UNKNOWN_TOKEN = Verdict(Allowed.NOT_ALLOWED, "This card is not known.", ChargeReason.UNKNOWN_TOKEN)


def charge_refusal() -> Case:
    """The index in CHARGE_REFUSALS of the first refusal that holds for a token, NULL if none does."""
    return Case(
        *(When(condition, then=Value(index)) for index, (_, condition) in enumerate(CHARGE_REFUSALS)),
        default=None,
        output_field=IntegerField(),
    )


def verdict(refusal: int | None) -> Verdict:
    """The verdict for a `charge_refusal()` value."""
    return _MAY_CHARGE if refusal is None else CHARGE_REFUSALS[refusal][0]


def tokens_with_verdict() -> QuerySet[Token]:
    """Tokens with their driver and `refusal` (see `charge_refusal`)."""
    return Token.objects.select_related("driver").annotate(refusal=charge_refusal())


def uid_key(uid: str) -> str:
    """What a token uid is compared by, against UPPER(uid) in the database: OCPI uids are case-insensitive,
    and CPOs write an RFID uid in another case than the card reader gave us. (OCPI uids are ASCII, where
    Python's upper() and every database's UPPER() agree.)"""
    return uid.upper()


def token_match(uid: str | None, type: str, tokens: QuerySet[Token] | None = None) -> QuerySet[Token]:
    """The token (of `tokens`, all by default) a partner names by `uid`, a `uid_key`, and type: at most one, as
    (UPPER(uid), type) is unique. Every look-up of a token by a partner's uid matches by this one rule, through
    the ORM and compiled into SQL (the CDR's INSERT on PostgreSQL); a None uid matches nothing."""
    tokens = Token.objects.all() if tokens is None else tokens
    if uid is None:
        return tokens.none()
    return tokens.alias(uid_key=Upper("uid")).filter(uid_key=uid, type=type)


# Real-time authorization asks this while a driver waits at the charger: compiled once per thread.
# `uid` is a `uid_key`.
token_with_verdict_query = PreparedQuery(lambda uid, type: token_match(uid, type, tokens_with_verdict()), "uid", "type")


def token_get(uid: str, type: str = Token.Type.RFID) -> Token | None:
    """The token with its driver, `uid` in any case; (uid in upper case, type) is unique."""
    found = token_with_verdict_query.all(uid=uid_key(uid), type=type)
    return found[0] if found else None


def token_with_verdict(uid: str, type: str = Token.Type.RFID) -> tuple[Token, Verdict] | None:
    """The token with its driver (`uid` in any case), and whether it may charge now."""
    found = token_with_verdict_query.all(uid=uid_key(uid), type=type)
    return (found[0], verdict(found[0].refusal)) if found else None  # type: ignore[attr-defined]


def tokens_for_partners() -> QuerySet[Token]:
    """What CPOs may pull (every token we issued, valid or not: they must know about blocked ones)."""
    return Token.objects.select_related("driver")


def token_changes_after(change_id: int, *, limit: int = 500) -> list[TokenChange]:
    """Token changes newer than `change_id`, oldest first, skipping the last few seconds
    (TOKEN_CHANGE_SETTLE_SECONDS) so a change whose transaction commits late is not jumped over."""
    horizon = timezone.now() - timedelta(seconds=settings.TOKEN_CHANGE_SETTLE_SECONDS)
    return list(
        TokenChange.objects.filter(pk__gt=change_id, created_at__lte=horizon)
        .select_related("token__driver")
        .order_by("pk")[:limit]
    )
