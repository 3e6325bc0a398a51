"""Driver accounts: sign-up with a confirmed email address, sign-in by email and password, password reset by
email, and closing an account (erasure).

The email address is how a driver signs in, so an account is one address: the user's username is the
address in lower case, which makes the database refuse a second account for it. Nothing here tells anyone
whether an address has an account (sign-up, a new confirmation link and password reset answer the same
either way; the owner of the address learns what happened by email), so the API cannot be used to find out
who our customers are.

Emails are sent by a task after the commit (`drivers.tasks.account_email_task`): a mail server that is slow
or down neither holds up nor fails the request, and the links in them are made when the email is written,
so no secret is stored on the way.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from emsp.lib.tasks import enqueue

from .models import Driver, Token
from .services import token_activate, token_block, token_issue

EmailKind = Literal["verify", "exists", "reset"]

_VERIFY_SALT = "drivers.accounts.verify-email"


class AccountError(Exception):
    """An account operation refused; `code` is stable (for the app), the message in the driver's words."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def email_key(email: str) -> str:
    """An address as accounts compare it (and as the username): in lower case. Strictly only the domain is
    case-insensitive, but no mail provider we know of tells Ann@ from ann@, and drivers type either."""
    return email.strip().lower()


def _drivers_with_email(email: str) -> list[Driver]:
    return list(
        Driver.objects.select_related("user").filter(user__email__iexact=email_key(email), erased_at__isnull=True)
    )


# --- sign-up and confirming the address ------------------------------------------------------------------


def driver_sign_up(
    *, email: str, password: str, first_name: str, last_name: str, language: str, country: str
) -> Driver | None:
    """Open an account: a user (the address as username, not confirmed yet), the driver and their app token
    (ISSUED until the address is confirmed, so CPOs never see a valid token of an unconfirmed account), and an
    email with the confirmation link. The password must have passed Django's validators already.

    An address that has an account already gets no second one (returns None): its owner gets an email saying
    someone tried, and how to sign in or reset the password instead.
    """
    key = email_key(email)
    if existing := _drivers_with_email(key):
        _email_later(existing[0].user_id, "exists")
        return None
    try:
        with transaction.atomic():
            user = get_user_model().objects.create_user(
                username=key, email=key, password=password, first_name=first_name, last_name=last_name
            )
            driver = Driver.objects.create(user=user, language=language, country=country)
            token_issue(
                driver=driver,
                uid=uuid.uuid4().hex.upper(),
                type=Token.Type.APP_USER,
                # The app starts sessions through us (OCPI commands), so CPOs always ask us first.
                whitelist=Token.Whitelist.NEVER,
                activate=False,
            )
            _email_later(user.pk, "verify")
    except IntegrityError:  # the same address signed up at the same moment (or a staff user has it as name)
        return None
    return driver


def email_verification_token(user: User) -> str:
    """A signed token naming the user and their address, good for ACCOUNT_VERIFY_HOURS; a changed address
    makes it worthless."""
    return signing.dumps({"user": user.pk, "email": user.email}, salt=_VERIFY_SALT, compress=True)


def driver_verify_email(*, token: str) -> Driver:
    """Confirm the address a verification email went to: the driver may sign in from now on and their app
    token becomes active. Confirming twice is harmless."""
    try:
        claim = signing.loads(token, salt=_VERIFY_SALT, max_age=settings.ACCOUNT_VERIFY_HOURS * 3600)
    except signing.SignatureExpired:
        raise AccountError(
            "This link has expired; ask the app for a new one.", code="verification_link_expired"
        ) from None
    except signing.BadSignature:
        raise AccountError("This link is not valid.", code="verification_link_invalid") from None
    driver = (
        Driver.objects.select_related("user")
        .filter(user_id=claim.get("user"), user__email=claim.get("email"), user__is_active=True, erased_at=None)
        .first()
    )
    if driver is None:
        raise AccountError("This link is not valid.", code="verification_link_invalid")
    return _confirm_address(driver)


def _confirm_address(driver: Driver) -> Driver:
    with transaction.atomic():
        locked = Driver.objects.select_for_update().get(pk=driver.pk)
        if locked.email_verified_at is None:
            locked.email_verified_at = timezone.now()
            locked.save(update_fields=["email_verified_at"])
            for token in locked.tokens.filter(type=Token.Type.APP_USER, status=Token.Status.ISSUED):
                token_activate(token=token)
    return locked


def verification_resend(*, email: str) -> None:
    """A new confirmation link, if the address has an account still waiting for one (else nothing, silently)."""
    for driver in _drivers_with_email(email):
        if driver.email_verified_at is None and driver.user.is_active:
            _email_later(driver.user_id, "verify")


# --- signing in -----------------------------------------------------------------------------------------


def driver_authenticate(*, email: str, password: str) -> Driver | None:
    """The driver whose address and password these are, or None. Whether they may sign in (a confirmed
    address, an account not closed) is for the caller to say, so it can tell the driver which it is."""
    for driver in _drivers_with_email(email):
        if driver.user.check_password(password):
            return driver
    # As long as a right guess: the time of the answer must not tell whether the address has an account.
    get_user_model()().set_password(password)
    return None


# --- password reset -------------------------------------------------------------------------------------


def password_reset_request(*, email: str) -> None:
    """Email a reset link to the address, if it is an open account's (else nothing, silently)."""
    for driver in _drivers_with_email(email):
        if driver.user.is_active:
            _email_later(driver.user_id, "reset")


def password_reset_confirm(*, uid: str, token: str, password: str) -> User:
    """Set a new password with the `uid` and `token` of a reset email (Django's token: single use, as it is
    bound to the old password, and good for PASSWORD_RESET_TIMEOUT). Raises Django's ValidationError when the
    password fails the validators. Opening the link proves the address, so an unconfirmed one is confirmed."""
    try:
        user = get_user_model().objects.get(pk=force_str(urlsafe_base64_decode(uid)), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not hasattr(user, "driver") or not default_token_generator.check_token(user, token):
        raise AccountError("This link is not valid or has expired; ask for a new one.", code="reset_link_invalid")
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        _confirm_address(user.driver)
    return user


# --- closing an account ---------------------------------------------------------------------------------


def driver_erase(*, driver: Driver) -> Driver:
    """Close the account and remove the driver's personal data, keeping what the law requires us to keep.

    Kept, because tax law requires invoices and their records for 7 years (NL: art. 52 AWR; the EU VAT
    Directive art. 244-249): the invoices (which carry their own copy of the name and address they were
    issued to), payments, SEPA mandates (the rulebook wants them 14 months after the last collection; billing
    revokes them, `billing.collection.account_close`), the session charges and the CDRs they were priced from,
    with the tokens those name (uid and contract id, which identify no person without the rest). The driver
    row stays as the thing all of those point to (they are PROTECTed foreign keys), with the country (the
    VAT of a later credit note), language, currency and balance.

    Removed: name, email address, street, postal code, city, VAT number (also from the audit history); the
    user is renamed to a tombstone, gets no usable password and is deactivated (every JWT and session of it
    stops working). Every token that could still charge is blocked, which is logged as a token change, so
    every CPO hears of it.

    Refused while the driver owes us or has charged since the last invoice: the debt and the invoice still to
    come need the name and address (GDPR art. 17(3)(b) and (e)).
    """
    with transaction.atomic():
        locked = Driver.objects.select_for_update().select_related("user").get(pk=driver.pk)
        if locked.erased_at is not None:
            return locked
        if locked.outstanding or locked.uninvoiced:
            raise AccountError(
                "Your account can be closed once your invoices are paid and your last sessions invoiced.",
                code="balance_open",
            )
        for token in locked.tokens.filter(status__in=(Token.Status.ISSUED, Token.Status.ACTIVE)):
            token_block(token=token)
        user = locked.user
        user.username = f"erased-{user.pk}"
        user.email = user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.is_active = False
        user.save(update_fields=["username", "email", "first_name", "last_name", "password", "is_active"])
        locked.street = locked.postal_code = locked.city = locked.vat_number = ""
        locked.erased_at = timezone.now()
        locked.save(update_fields=["street", "postal_code", "city", "vat_number", "erased_at"])
        # The audit history keeps who changed what, not the address it held.
        Driver.history.filter(id=locked.pk).update(street="", postal_code="", city="", vat_number="")
    return locked


# --- the emails -----------------------------------------------------------------------------------------

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "verify_subject": "Please confirm your email address",
        "verify_body": (
            "Dear {name},\n\n"
            "Welcome! Please confirm that this is your email address by opening this link on your phone:\n\n"
            "{link}\n\n"
            "The link works for {hours} hours. If you did not sign up, you may ignore this email.\n\n"
            "Kind regards,\n{company}"
        ),
        "exists_subject": "You already have an account",
        "exists_body": (
            "Dear {name},\n\n"
            "Someone, probably you, tried to sign up with this email address, but it has an account already. "
            "Sign in with it in the app, or reset your password there if you forgot it.\n\n"
            "Kind regards,\n{company}"
        ),
        "reset_subject": "Reset your password",
        "reset_body": (
            "Dear {name},\n\n"
            "To choose a new password, open this link on your phone:\n\n"
            "{link}\n\n"
            "If you did not ask for this, you may ignore this email: your password stays as it is.\n\n"
            "Kind regards,\n{company}"
        ),
    },
    "nl": {
        "verify_subject": "Bevestig uw e-mailadres",
        "verify_body": (
            "Beste {name},\n\n"
            "Welkom! Bevestig dat dit uw e-mailadres is door deze link op uw telefoon te openen:\n\n"
            "{link}\n\n"
            "De link werkt {hours} uur. Heeft u zich niet aangemeld, dan kunt u deze e-mail negeren.\n\n"
            "Met vriendelijke groet,\n{company}"
        ),
        "exists_subject": "U heeft al een account",
        "exists_body": (
            "Beste {name},\n\n"
            "Iemand, waarschijnlijk u, probeerde zich met dit e-mailadres aan te melden, maar er is al een account "
            "mee. Log ermee in in de app, of stel daar een nieuw wachtwoord in als u het vergeten bent.\n\n"
            "Met vriendelijke groet,\n{company}"
        ),
        "reset_subject": "Stel een nieuw wachtwoord in",
        "reset_body": (
            "Beste {name},\n\n"
            "Open deze link op uw telefoon om een nieuw wachtwoord te kiezen:\n\n"
            "{link}\n\n"
            "Heeft u hier niet om gevraagd, dan kunt u deze e-mail negeren: uw wachtwoord blijft zoals het is.\n\n"
            "Met vriendelijke groet,\n{company}"
        ),
    },
}


def account_email_send(*, user_id: int, kind: EmailKind) -> bool:
    """Write and send an account email; False when there is nothing to send (any more). The links open the app
    (DRIVER_APP_URL), which posts what they carry to the API."""
    user = get_user_model().objects.select_related("driver").filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or not hasattr(user, "driver"):
        return False
    driver: Driver = user.driver
    if kind == "verify" and driver.email_verified_at is not None:
        return False
    texts = MESSAGES.get(driver.language, MESSAGES["en"])
    values: dict[str, Any] = {
        "name": user.get_full_name() or user.email,
        "company": settings.BILLING_COMPANY["name"],
        "hours": settings.ACCOUNT_VERIFY_HOURS,
        "link": "",
    }
    if kind == "verify":
        values["link"] = f"{settings.DRIVER_APP_URL}/verify-email?token={email_verification_token(user)}"
    elif kind == "reset":
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        token = default_token_generator.make_token(user)
        values["link"] = f"{settings.DRIVER_APP_URL}/reset-password?uid={uid}&token={token}"
    subject, body = texts[f"{kind}_subject"], texts[f"{kind}_body"].format(**values)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def _email_later(user_id: int, kind: EmailKind) -> None:
    from .tasks import account_email_task  # tasks import this module

    enqueue(account_email_task, user_id, kind)
