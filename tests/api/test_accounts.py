"""Accounts: sign-up, confirming the address, sign-in with JWTs, refresh and sign-out, password reset,
closing an account, and the throttles on all of it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from billing.collection import mandate_create
from billing.models import Invoice, Mandate
from drivers.models import Driver, Token, TokenChange
from roaming.management.commands.rundemo import Command as RunDemo
from tests.api.conftest import signed_in
from tests.billing.factories import a_driver, an_invoice

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"

Post = Callable[..., Any]


@pytest.fixture
def post(django_capture_on_commit_callbacks: Any) -> Post:
    """POST as the app does, with what runs after the commit (the emails) run before the answer is read."""

    def post(path: str, body: dict[str, Any], client: APIClient | None = None) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return (client or APIClient()).post(f"/api/v1/{path}", body, format="json")

    return post


def _sign_up(post: Post, email: str = "ann@example.com", **fields: str) -> Any:
    body = {"email": email, "password": PASSWORD, "first_name": "Ann", "last_name": "Smit", "country": "NL"}
    return post("account/sign-up", body | fields)


def _link(message: mail.EmailMessage) -> dict[str, str]:
    """The query of the link in an email."""
    query = re.search(r"https?://\S+\?(\S+)", str(message.body))
    assert query, message.body
    return dict(part.split("=", 1) for part in query.group(1).split("&"))


def _login(post: Post, email: str = "ann@example.com", password: str = PASSWORD) -> Any:
    return post("auth/login", {"email": email, "password": password})


def test_sign_up_confirm_sign_in_refresh_and_sign_out(post: Post) -> None:
    reply = _sign_up(post, email="Ann@Example.com", language="nl")

    assert reply.status_code == 202
    driver = Driver.objects.select_related("user").get(user__email="ann@example.com")
    assert (driver.user.first_name, driver.language, driver.country, driver.email_verified_at) == (
        "Ann",
        "nl",
        "NL",
        None,
    )
    app_token = driver.tokens.get()
    assert (app_token.type, app_token.whitelist, app_token.status) == ("APP_USER", "NEVER", "issued")
    [email] = mail.outbox
    assert (email.to, email.subject) == (["ann@example.com"], "Bevestig uw e-mailadres")

    refused = _login(post)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "email_not_verified")

    confirmed = post("account/verify-email", {"token": _link(email)["token"]})
    assert confirmed.status_code == 200
    assert confirmed.json()["email"] == "ann@example.com"
    app_token.refresh_from_db()
    assert app_token.status == Token.Status.ACTIVE
    assert post("account/verify-email", {"token": _link(email)["token"]}).status_code == 200  # twice: harmless

    tokens = _login(post, email="ANN@example.com").json()
    assert set(tokens) == {"access", "refresh"}
    app = APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert app.get("/api/v1/me").json()["email"] == "ann@example.com"

    renewed = post("auth/refresh", {"refresh": tokens["refresh"]})
    assert renewed.status_code == 200
    assert renewed.json()["refresh"] != tokens["refresh"]
    used = post("auth/refresh", {"refresh": tokens["refresh"]})
    assert (used.status_code, used.json()["error"]["code"]) == (401, "token_not_valid")

    assert post("auth/logout", {"refresh": renewed.json()["refresh"]}).status_code == 204
    after = post("auth/refresh", {"refresh": renewed.json()["refresh"]})
    assert (after.status_code, after.json()["error"]["type"]) == (401, "not_authenticated")
    assert post("auth/logout", {"refresh": "not-a-token"}).status_code == 401


def test_sign_up_checks_the_password_and_the_fields(post: Post) -> None:
    reply = _sign_up(post, password="password", country="XX")

    assert reply.status_code == 400
    assert set(reply.json()["error"]["fields"]) == {"country"}
    reply = _sign_up(post, password="password")
    assert reply.json()["error"]["fields"]["password"] == ["This password is too common."]
    similar = _sign_up(post, email="annsmit1@example.com", password="annsmit1")
    assert "too similar" in similar.json()["error"]["fields"]["password"][0]
    assert not Driver.objects.exists()
    assert mail.outbox == []


def test_sign_up_with_an_address_that_has_an_account_answers_the_same_and_tells_its_owner(post: Post) -> None:
    ann = a_driver("Ann Smit")

    reply = _sign_up(post, email=ann.user.email.upper())

    assert reply.status_code == 202
    assert reply.json() == _sign_up(post, email="new@example.com").json()
    assert Driver.objects.filter(user__email__iexact=ann.user.email).count() == 1
    assert [m.subject for m in mail.outbox] == ["You already have an account", "Please confirm your email address"]


def test_a_confirmation_link_expires_and_can_be_sent_again(post: Post) -> None:
    _sign_up(post)
    token = _link(mail.outbox[0])["token"]

    with time_machine.travel(timezone.now() + timedelta(hours=73)):
        expired = post("account/verify-email", {"token": token})
    assert (expired.status_code, expired.json()["error"]["code"]) == (422, "verification_link_expired")
    forged = post("account/verify-email", {"token": token[:-2] + "xx"})
    assert (forged.status_code, forged.json()["error"]["code"]) == (422, "verification_link_invalid")

    for address in ("ann@example.com", "nobody@example.com"):
        assert post("account/verify-email/resend", {"email": address}).status_code == 202
    assert len(mail.outbox) == 2  # the first and the new one; none to an address without an account
    assert post("account/verify-email", {"token": _link(mail.outbox[1])["token"]}).status_code == 200
    assert post("account/verify-email/resend", {"email": "ann@example.com"}).status_code == 202
    assert len(mail.outbox) == 2  # confirmed: nothing more to send


def test_sign_in_refused(post: Post) -> None:
    ann = a_driver("Ann Smit")  # made by staff: the address counts as confirmed
    assert _login(post, ann.user.email, "pw").status_code == 200

    for email, password in ((ann.user.email, "wrong"), ("nobody@example.com", "pw")):
        reply = _login(post, email, password)
        assert (reply.status_code, reply.json()["error"]["code"]) == (401, "invalid_credentials")
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")

    ann.user.is_active = False  # closed by staff
    ann.user.save()
    closed = _login(post, ann.user.email, "pw")
    assert (closed.status_code, closed.json()["error"]["code"]) == (403, "account_disabled")


def test_sign_in_ignores_a_stale_access_token(post: Post) -> None:
    ann = a_driver("Ann Smit")
    stale = APIClient(HTTP_AUTHORIZATION="Bearer expired.or.garbage")
    assert post("auth/login", {"email": ann.user.email, "password": "pw"}, client=stale).status_code == 200


def test_password_reset_by_email(post: Post) -> None:
    ann = a_driver("Ann Smit")
    old = _login(post, ann.user.email, "pw").json()

    replies = [post("account/password-reset", {"email": a}) for a in ("nobody@example.com", ann.user.email.upper())]
    assert [r.status_code for r in replies] == [202, 202]
    assert replies[0].json() == replies[1].json()  # no telling who has an account
    [email] = mail.outbox
    assert email.to == [ann.user.email]
    link = _link(email)

    weak = post("account/password-reset/confirm", link | {"password": "12345678"})
    assert weak.status_code == 400
    assert "password" in weak.json()["error"]["fields"]
    assert post("account/password-reset/confirm", link | {"password": PASSWORD}).status_code == 204

    assert _login(post, ann.user.email, "pw").status_code == 401
    assert _login(post, ann.user.email, PASSWORD).status_code == 200
    reused = post("account/password-reset/confirm", link | {"password": "another long one"})
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "reset_link_invalid")
    # Every app signed in with the old password is signed out.
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {old['access']}").get("/api/v1/me").status_code == 401
    assert post("auth/refresh", {"refresh": old["refresh"]}).status_code == 401


def test_password_reset_confirms_an_unconfirmed_address(post: Post) -> None:
    _sign_up(post)
    post("account/password-reset", {"email": "ann@example.com"})
    link = _link(mail.outbox[-1])
    assert post("account/password-reset/confirm", link | {"password": "another long one"}).status_code == 204
    assert _login(post, password="another long one").status_code == 200


def test_closing_the_account_keeps_invoices_and_blocks_cards(post: Post) -> None:
    ann = a_driver("Ann Smit")
    invoice = an_invoice(ann, "12.10")
    mandate = mandate_create(driver=ann, iban="NL91ABNA0417164300", debtor_name="Ann Smit", signed_on=date(2026, 1, 5))
    card = ann.tokens.get()
    email = ann.user.email
    tokens = _login(post, ann.user.email, "pw").json()
    app = signed_in(ann)

    wrong = post("account/close", {"password": "wrong"}, client=app)
    assert (wrong.status_code, list(wrong.json()["error"]["fields"])) == (400, ["password"])

    assert post("account/close", {"password": "pw"}, client=app).status_code == 204

    ann.refresh_from_db()
    user = ann.user
    assert (user.username, user.email, user.first_name, user.last_name) == (f"erased-{user.pk}", "", "", "")
    assert (user.is_active, user.has_usable_password()) == (False, False)
    assert (ann.street, ann.postal_code, ann.city, ann.erased_at is not None) == ("", "", "", True)
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert (invoice.customer_name, invoice.total_incl_vat) == ("Ann Smit", invoice.total_incl_vat)
    card.refresh_from_db()
    assert card.status == Token.Status.BLOCKED
    assert TokenChange.objects.filter(token=card, reason="blocked").exists()  # every CPO hears of it
    mandate.refresh_from_db()
    assert mandate.status == Mandate.Status.REVOKED

    assert app.get("/api/v1/me").status_code == 401
    assert post("auth/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    assert _login(post, email, "pw").status_code == 401
    assert _sign_up(post, email=email).status_code == 202  # the address is free for a new account
    assert Driver.objects.filter(user__email=email, email_verified_at=None).exists()


def test_an_account_with_something_to_pay_cannot_be_closed(post: Post) -> None:
    ann = a_driver("Ann Smit", outstanding="12.10")
    reply = post("account/close", {"password": "pw"}, client=signed_in(ann))
    assert (reply.status_code, reply.json()["error"]["code"]) == (409, "balance_open")
    ann.user.refresh_from_db()
    assert ann.user.is_active


def test_closing_needs_a_signed_in_driver(post: Post) -> None:
    reply = post("account/close", {"password": "pw"})
    assert (reply.status_code, reply.json()["error"]["type"]) == (401, "not_authenticated")


@pytest.fixture
def low_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    rates = {"login": "2/min", "signup": "1/hour", "password_reset": "1/hour", "charging": "30/min"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.usefixtures("low_rates")
def test_sign_in_is_throttled(post: Post) -> None:
    ann = a_driver("Ann Smit")
    assert _login(post, ann.user.email, "wrong").status_code == 401
    assert _login(post, ann.user.email, "pw").status_code == 200

    throttled = _login(post, ann.user.email, "pw")

    assert throttled.status_code == 429
    error = throttled.json()["error"]
    assert (error["type"], error["code"]) == ("throttled", "throttled")
    assert 0 < error["retry_after"] <= 60
    assert int(throttled.headers["Retry-After"]) == error["retry_after"]


@pytest.mark.usefixtures("low_rates")
def test_sign_up_and_password_reset_are_throttled(post: Post) -> None:
    assert _sign_up(post).status_code == 202
    throttled = _sign_up(post, email="bob@example.com")
    assert (throttled.status_code, throttled.json()["error"]["code"]) == (429, "throttled")
    assert throttled.json()["error"]["retry_after"] > 3000
    assert Driver.objects.count() == 1

    assert post("account/password-reset", {"email": "ann@example.com"}).status_code == 202
    assert post("account/password-reset", {"email": "ann@example.com"}).status_code == 429


@pytest.mark.django_db
def test_the_demo_drivers_login_printed_by_make_run_works() -> None:
    """`make run` prints it for the docs' "Try it out"; the demo driver is made by rundemo itself."""
    RunDemo()._demo_driver()
    RunDemo()._demo_driver()  # each start of `make run`: the same driver
    reply = APIClient().post("/api/v1/auth/login", {"email": "driver@example.com", "password": "driver"}, format="json")

    assert reply.status_code == 200, reply.json()
    app = APIClient(HTTP_AUTHORIZATION=f"Bearer {reply.json()['access']}")
    assert app.get("/api/v1/me").json()["email"] == "driver@example.com"
