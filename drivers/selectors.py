"""Reads on drivers and tokens, including the rule that decides whether a token may charge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from .models import Driver, Token, TokenChange


class Allowed:
    """The verdicts of `token_may_charge`, named as OCPI's AllowedType."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


@dataclass(frozen=True)
class Verdict:
    allowed: str
    reason: str  # for the driver (OCPI `info`) and for support


def token_get(uid: str, type: str = Token.Type.RFID) -> Token | None:
    return Token.objects.select_related("driver").filter(uid=uid, type=type).first()


def token_may_charge(token: Token, *, now: datetime | None = None) -> Verdict:
    """Whether this token may start a charge now: valid, not blocked, not expired, driver in good
    standing, and not over the driver's credit limit if one is set."""
    now = now or timezone.now()
    if token.status in (Token.Status.BLOCKED, Token.Status.LOST):
        return Verdict(Allowed.BLOCKED, "This card is blocked.")
    if token.status == Token.Status.EXPIRED or (token.expires_at and token.expires_at <= now):
        return Verdict(Allowed.EXPIRED, "This card has expired.")
    if token.status != Token.Status.ACTIVE:
        return Verdict(Allowed.NOT_ALLOWED, "This card is not activated yet.")
    driver: Driver = token.driver
    if driver.standing != Driver.Standing.GOOD:
        return Verdict(Allowed.NOT_ALLOWED, "Your account is suspended; please contact us.")
    if driver.credit_limit is not None and driver.outstanding >= driver.credit_limit:
        return Verdict(Allowed.NO_CREDIT, "Your credit limit is reached.")
    return Verdict(Allowed.ALLOWED, "")


def tokens_for_partners() -> QuerySet[Token]:
    """What CPOs may pull (every token we issued, valid or not: they must know about blocked ones)."""
    return Token.objects.all()


def token_changes_after(change_id: int, *, limit: int = 500) -> list[TokenChange]:
    """Token changes newer than `change_id`, oldest first, skipping the last few seconds
    (TOKEN_CHANGE_SETTLE_SECONDS) so a change whose transaction commits late is not jumped over."""
    horizon = timezone.now() - timedelta(seconds=settings.TOKEN_CHANGE_SETTLE_SECONDS)
    return list(
        TokenChange.objects.filter(pk__gt=change_id, created_at__lte=horizon)
        .select_related("token")
        .order_by("pk")[:limit]
    )
