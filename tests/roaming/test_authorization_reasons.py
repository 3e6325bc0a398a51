"""Authorizations say why: every refusal of the charging rule, and an unknown token, is kept with its reason,
the same whether it was decided in one PostgreSQL statement or through the ORM."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from drivers.models import ChargeReason, Driver, Token
from drivers.selectors import CHARGE_REFUSALS, UNKNOWN_TOKEN
from drivers.services import token_block, token_issue, token_report_lost
from roaming.models import Authorization, Partner
from roaming.services import tokens as token_services
from roaming.services.tokens import token_authorize
from tests.roaming.fakecpo import make_driver

pytestmark = pytest.mark.django_db


def _blocked(token: Token) -> None:
    token_block(token=token)


def _lost(token: Token) -> None:
    token_report_lost(token=token)


def _expired_status(token: Token) -> None:
    Token.objects.filter(pk=token.pk).update(status=Token.Status.EXPIRED)


def _expired_date(token: Token) -> None:
    Token.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(minutes=1))


def _not_activated(token: Token) -> None:
    Token.objects.filter(pk=token.pk).update(status=Token.Status.ISSUED)


def _suspended(token: Token) -> None:
    Driver.objects.filter(pk=token.driver_id).update(standing=Driver.Standing.SUSPENDED)


def _credit_limit(token: Token) -> None:
    # Unpaid invoices plus priced sessions not invoiced yet reach the limit.
    Driver.objects.filter(pk=token.driver_id).update(
        credit_limit=Decimal("50"), outstanding=Decimal("30"), uninvoiced=Decimal("20")
    )


def _under_credit_limit(token: Token) -> None:
    Driver.objects.filter(pk=token.driver_id).update(
        credit_limit=Decimal("50"), outstanding=Decimal("30"), uninvoiced=Decimal("19.99")
    )


def _blocked_and_suspended(token: Token) -> None:
    _blocked(token)
    _suspended(token)


def _nothing(token: Token) -> None:
    pass


CASES: list[tuple[str, Callable[[Token], None], str, str]] = [
    ("active", _nothing, "ALLOWED", ChargeReason.ALLOWED),
    ("under the credit limit", _under_credit_limit, "ALLOWED", ChargeReason.ALLOWED),
    ("blocked", _blocked, "BLOCKED", ChargeReason.BLOCKED),
    ("lost", _lost, "BLOCKED", ChargeReason.BLOCKED),
    ("expired", _expired_status, "EXPIRED", ChargeReason.EXPIRED),
    ("past its expiry date", _expired_date, "EXPIRED", ChargeReason.EXPIRED),
    ("not activated", _not_activated, "NOT_ALLOWED", ChargeReason.NOT_ACTIVATED),
    ("driver suspended", _suspended, "NOT_ALLOWED", ChargeReason.DRIVER_SUSPENDED),
    ("credit limit reached", _credit_limit, "NO_CREDIT", ChargeReason.CREDIT_LIMIT),
    ("blocked card of a suspended driver", _blocked_and_suspended, "BLOCKED", ChargeReason.BLOCKED),
]


@pytest.fixture(params=["one statement", "orm"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`token_authorize` as it runs on PostgreSQL (one statement) or elsewhere (the ORM); on PostgreSQL both."""
    if request.param == "one statement" and connection.vendor != "postgresql":
        pytest.skip("INSERT inside WITH is PostgreSQL's")
    if request.param == "orm" and connection.vendor == "postgresql":
        monkeypatch.setattr(token_services, "_authorize_in_one_statement", token_services._authorize_with_orm)
    return str(request.param)


@pytest.fixture
def partner(cpo: tuple[Partner, str]) -> Partner:
    return cpo[0]


@pytest.mark.parametrize(("case", "setup", "allowed", "reason"), CASES, ids=[c[0] for c in CASES])
def test_each_decision_is_kept_with_its_reason(
    path: str, partner: Partner, case: str, setup: Callable[[Token], None], allowed: str, reason: str
) -> None:
    card = token_issue(driver=make_driver(), uid="04A1B2C3")
    setup(card)

    token, verdict, authorization = token_authorize(
        partner=partner, uid="04a1b2c3", type="RFID", location_id="LOC1", evse_uids=["E1"]
    )

    assert token is not None
    assert token.pk == card.pk
    assert (verdict.allowed, verdict.why) == (allowed, reason)
    stored = Authorization.objects.get()
    assert (stored.allowed, stored.reason, stored.token_id) == (allowed, reason, card.pk)
    assert (stored.token_uid, stored.token_type, stored.location_id, stored.evse_uids) == (
        "04a1b2c3",
        "RFID",
        "LOC1",
        ["E1"],
    )
    # What the caller holds is the row as stored.
    assert (authorization.pk, authorization.reference, authorization.created_at) == (
        stored.pk,
        stored.reference,
        stored.created_at,
    )
    assert (authorization.allowed, authorization.reason) == (allowed, reason)


def test_an_unknown_token_is_kept_with_the_uid_and_type_asked_about(path: str, partner: Partner) -> None:
    card = token_issue(driver=make_driver(), uid="04A1B2C3")

    token, verdict, authorization = token_authorize(partner=partner, uid="NOPE", type="RFID", location_id="LOC1")
    assert (token, verdict) == (None, UNKNOWN_TOKEN)
    # Same uid, other type: another token, unknown too.
    token_authorize(partner=partner, uid=card.uid, type="APP_USER")

    kept = list(Authorization.objects.order_by("pk"))
    assert [(a.token_id, a.token_uid, a.token_type, a.allowed, a.reason, a.location_id) for a in kept] == [
        (None, "NOPE", "RFID", "NOT_ALLOWED", "unknown_token", "LOC1"),
        (None, "04A1B2C3", "APP_USER", "NOT_ALLOWED", "unknown_token", ""),
    ]
    assert (authorization.pk, authorization.reference, authorization.token) == (kept[0].pk, kept[0].reference, None)
    assert kept[0].partner == partner
    assert authorization.created_at == kept[0].created_at


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the one statement is PostgreSQL's")
def test_an_unknown_token_is_decided_and_kept_in_one_statement_too(
    partner: Partner, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        token, _, _ = token_authorize(partner=partner, uid="NOPE", type="RFID")
    assert token is None
    assert Authorization.objects.get().reason == "unknown_token"


def test_every_refusal_of_the_rule_names_its_own_reason() -> None:
    reasons = [refused.why for refused, _ in CHARGE_REFUSALS]
    assert len(set(reasons)) == len(reasons)
    assert set(reasons) <= set(ChargeReason.values) - {ChargeReason.ALLOWED, ChargeReason.UNKNOWN_TOKEN}
    assert {r for _, _, _, r in CASES} | {UNKNOWN_TOKEN.why} == set(reasons) | {
        ChargeReason.ALLOWED,
        ChargeReason.UNKNOWN_TOKEN,
    }


def test_the_admin_lists_and_filters_authorizations_by_reason_in_words(admin_client: Client, partner: Partner) -> None:
    driver = make_driver()
    good = token_issue(driver=driver, uid="GOOD")
    new = token_issue(driver=driver, uid="NEW", activate=False)
    token_authorize(partner=partner, uid=good.uid, type="RFID")
    token_authorize(partner=partner, uid=new.uid, type="RFID")
    token_authorize(partner=partner, uid="STRANGER", type="RFID")

    everything = admin_client.get("/admin/roaming/authorization/").content.decode()
    for words in ("Allowed", "Card not activated yet", "Unknown token", "STRANGER (RFID, unknown)"):
        assert words in everything
    only = admin_client.get("/admin/roaming/authorization/?reason=not_activated").content.decode()
    assert "NEW" in only
    assert "GOOD" not in only
    assert "STRANGER" not in only
    assert "Driver suspended" in only  # among the filter's choices
    unknown = admin_client.get("/admin/roaming/authorization/?reason=unknown_token").content.decode()
    assert "STRANGER" in unknown
    assert "GOOD" not in unknown


def test_older_authorizations_get_the_reasons_their_allowed_tells_and_their_tokens_uid(partner: Partner) -> None:
    from django.apps import apps

    fill = importlib.import_module("roaming.migrations.0013_fill_authorization_reason").fill
    card = token_issue(driver=make_driver(), uid="OLDCARD", type=Token.Type.RFID)
    for allowed in ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"):
        Authorization.objects.create(partner=partner, token=card, allowed=allowed)  # as before this change

    fill(apps, None)

    assert sorted(Authorization.objects.values_list("allowed", "reason", "token_uid", "token_type")) == [
        ("ALLOWED", "allowed", "OLDCARD", "RFID"),
        ("BLOCKED", "blocked", "OLDCARD", "RFID"),
        ("EXPIRED", "expired", "OLDCARD", "RFID"),
        ("NOT_ALLOWED", "", "OLDCARD", "RFID"),  # not activated or suspended: not told, not guessed
        ("NO_CREDIT", "credit_limit", "OLDCARD", "RFID"),
    ]
