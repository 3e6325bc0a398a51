"""Writes on drivers and their tokens. Every change a CPO must learn about appends a TokenChange in
the same transaction, which is what makes the push to CPOs durable."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from .models import Driver, Token, TokenChange


class TokenStateError(Exception):
    """The lifecycle does not allow this change (e.g. unblocking a lost card)."""


def driver_create(
    *, user: User, language: str = "en", currency: str = "EUR", country: str = "NL", email_verified: bool = True
) -> Driver:
    """A driver for `user`. Staff who create one have the address from the driver, so it counts as confirmed;
    sign-up in the app (`drivers.accounts.driver_sign_up`) passes `email_verified=False`."""
    return Driver.objects.create(
        user=user,
        language=language,
        currency=currency,
        country=country,
        email_verified_at=timezone.now() if email_verified else None,
    )


def driver_set_standing(*, driver: Driver, standing: str) -> Driver:
    """Suspend or reinstate a driver. Their tokens' OCPI `valid` follows, so each is logged as changed and
    every CPO hears of it (a CPO that whitelists a token does not ask us before letting it charge)."""
    with transaction.atomic():
        locked = Driver.objects.select_for_update().get(pk=driver.pk)
        if locked.standing == standing:
            return locked
        locked.standing = standing
        locked.save(update_fields=["standing"])
        for token in locked.tokens.all():
            _changed(token, f"driver {standing}")
    return locked


def new_contract_id() -> str:
    """An eMAID under our own country code and party id: CC-PPP-C + 8 characters + check character."""
    body = secrets.token_hex(4).upper()
    check = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[sum(ord(c) for c in body) % 36]
    return f"{settings.OCPI_COUNTRY_CODE}-{settings.OCPI_PARTY_ID}-C{body}-{check}"


def _changed(token: Token, reason: str) -> None:
    token.last_updated = timezone.now()
    token.save()
    TokenChange.objects.create(token=token, reason=reason)


def token_issue(
    *,
    driver: Driver,
    uid: str,
    type: str = Token.Type.RFID,
    visual_number: str = "",
    whitelist: str = Token.Whitelist.ALLOWED,
    activate: bool = True,
    expires_at: datetime | None = None,
) -> Token:
    """A new card or app token for a driver; active at once unless `activate` is False."""
    with transaction.atomic():
        token = Token(
            driver=driver,
            uid=uid,
            type=type,
            contract_id=new_contract_id(),
            visual_number=visual_number,
            issuer=settings.OCPI_BUSINESS_NAME,
            whitelist=whitelist,
            language=driver.language,
            status=Token.Status.ACTIVE if activate else Token.Status.ISSUED,
            expires_at=expires_at,
        )
        _changed(token, "issued")
    return token


def token_save(*, token: Token) -> Token:
    """Save a token staff created or edited by hand (back office). A new one gets an eMAID, our issuer and
    its driver's language; every save is stamped and logged like any other change, so CPOs get it."""
    with transaction.atomic():
        new = token._state.adding
        if new:
            token.contract_id = token.contract_id or new_contract_id()
            token.issuer = token.issuer or settings.OCPI_BUSINESS_NAME
            token.language = token.language or token.driver.language
        _changed(token, "issued" if new else "edited")
    return token


def _transition(token: Token, *, to: str, allowed_from: tuple[str, ...], reason: str) -> Token:
    with transaction.atomic():
        locked = Token.objects.select_for_update().get(pk=token.pk)
        if locked.status == to:
            return locked
        if locked.status not in allowed_from:
            raise TokenStateError(f"A {locked.get_status_display().lower()} token cannot become {to}.")
        locked.status = to
        _changed(locked, reason)
    return locked


def token_activate(*, token: Token) -> Token:
    return _transition(token, to=Token.Status.ACTIVE, allowed_from=(Token.Status.ISSUED,), reason="activated")


def token_block(*, token: Token) -> Token:
    return _transition(
        token, to=Token.Status.BLOCKED, allowed_from=(Token.Status.ISSUED, Token.Status.ACTIVE), reason="blocked"
    )


def token_unblock(*, token: Token) -> Token:
    return _transition(token, to=Token.Status.ACTIVE, allowed_from=(Token.Status.BLOCKED,), reason="unblocked")


def token_report_lost(*, token: Token) -> Token:
    """Lost or stolen: blocked for good; the driver gets a new card."""
    return _transition(
        token,
        to=Token.Status.LOST,
        allowed_from=(Token.Status.ISSUED, Token.Status.ACTIVE, Token.Status.BLOCKED),
        reason="lost",
    )


class CardOrderRefused(Exception):
    """The driver cannot order a card now; `code` says why (for the app), the message in the driver's words."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def new_card_uid() -> str:
    """The uid of a card we order: a 7-byte NFC UID. Cards come from the manufacturer encoded with the uid we
    give them, so the token exists (ISSUED, not valid) before the card does and CPOs can know it early."""
    return secrets.token_hex(7).upper()


def card_order(*, driver: Driver) -> Token:
    """A new RFID card for the driver, sent to their address: an ISSUED token, activated
    (`token_activate`) once the driver has it in hand. One card on its way at a time."""
    if not (driver.street and driver.postal_code and driver.city):
        raise CardOrderRefused("Please add your address first: the card is sent there.", code="address_missing")
    with transaction.atomic():
        Driver.objects.select_for_update().get(pk=driver.pk)  # two orders at once: one waits, then sees the other
        if driver.tokens.filter(type=Token.Type.RFID, status=Token.Status.ISSUED).exists():
            raise CardOrderRefused("A card is already on its way to you.", code="card_already_ordered")
        return token_issue(driver=driver, uid=new_card_uid(), type=Token.Type.RFID, activate=False)


def tokens_expire_due(*, now: datetime | None = None) -> int:
    """Expire tokens past their `expires_at` (periodic)."""
    now = now or timezone.now()
    expired = 0
    for token in Token.objects.filter(expires_at__lte=now, status__in=(Token.Status.ISSUED, Token.Status.ACTIVE)):
        _transition(
            token, to=Token.Status.EXPIRED, allowed_from=(Token.Status.ISSUED, Token.Status.ACTIVE), reason="expired"
        )
        expired += 1
    return expired


#: What a driver may change of their own profile (the user's name, the driver's address and language).
PROFILE_FIELDS = ("first_name", "last_name", "street", "postal_code", "city", "country", "language")


def driver_update(*, driver: Driver, **fields: str) -> Driver:
    """Change a driver's name, address or language. Issued invoices keep the address they were issued to."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    with transaction.atomic():
        user_fields = [name for name in ("first_name", "last_name") if name in fields]
        for name in user_fields:
            setattr(driver.user, name, fields.pop(name))
        if user_fields:
            driver.user.save(update_fields=user_fields)
        for name, value in fields.items():
            setattr(driver, name, value)
        if fields:
            driver.save(update_fields=list(fields))
    return driver
