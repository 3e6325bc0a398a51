"""Driver tokens: the card lifecycle, the may-charge rule, and the change log CPOs are fed from."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from drivers.models import Driver, Token, TokenChange
from drivers.selectors import Allowed, Verdict, token_changes_after, token_get, token_with_verdict
from drivers.services import (
    TokenStateError,
    driver_create,
    token_activate,
    token_block,
    token_issue,
    token_report_lost,
    token_unblock,
    tokens_expire_due,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def driver() -> Driver:
    return driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))


def test_issued_token_has_an_emaid_under_our_party_and_logs_a_change(driver: Driver) -> None:
    token = token_issue(driver=driver, uid="04A1B2C3", visual_number="NL-EMS-000001")
    assert token.contract_id.startswith("NL-EMS-C")
    assert len(token.contract_id) <= 36
    assert token.valid
    assert token_get("04A1B2C3") == token
    assert [c.reason for c in TokenChange.objects.filter(token=token)] == ["issued"]


def _verdict(token: Token) -> Verdict:
    found = token_with_verdict(token.uid, token.type)
    assert found is not None
    return found[1]


def test_lifecycle_transitions_and_their_log(driver: Driver) -> None:
    token = token_issue(driver=driver, uid="CARD1", activate=False)
    assert _verdict(token).allowed == Allowed.NOT_ALLOWED
    token = token_activate(token=token)
    token = token_block(token=token)
    assert _verdict(token).allowed == Allowed.BLOCKED
    token = token_unblock(token=token)
    assert _verdict(token).allowed == Allowed.ALLOWED
    token = token_report_lost(token=token)
    with pytest.raises(TokenStateError):
        token_unblock(token=token)
    assert list(TokenChange.objects.filter(token=token).order_by("pk").values_list("reason", flat=True)) == [
        "issued",
        "activated",
        "blocked",
        "unblocked",
        "lost",
    ]


def test_blocking_twice_changes_nothing_the_second_time(driver: Driver) -> None:
    token = token_block(token=token_issue(driver=driver, uid="CARD2"))
    before = TokenChange.objects.count()
    token_block(token=token)
    assert TokenChange.objects.count() == before


def test_expiry(driver: Driver) -> None:
    token = token_issue(driver=driver, uid="CARD3", expires_at=timezone.now() - timedelta(minutes=1))
    assert _verdict(token).allowed == Allowed.EXPIRED
    assert tokens_expire_due() == 1
    assert Token.objects.get(pk=token.pk).status == Token.Status.EXPIRED


def test_driver_standing_and_credit_limit(driver: Driver) -> None:
    token = token_issue(driver=driver, uid="CARD4")
    driver.credit_limit = Decimal("50.00")
    driver.outstanding = Decimal("49.99")
    driver.save()
    assert _verdict(token).allowed == Allowed.ALLOWED
    driver.outstanding = Decimal("50.00")
    driver.save()
    assert _verdict(token).allowed == Allowed.NO_CREDIT
    driver.standing = Driver.Standing.SUSPENDED
    driver.save()
    verdict = _verdict(token)
    assert verdict.allowed == Allowed.NOT_ALLOWED
    assert "suspended" in verdict.reason


def test_change_log_is_read_in_order_from_a_cursor(driver: Driver) -> None:
    first = token_issue(driver=driver, uid="A")
    second = token_issue(driver=driver, uid="B")
    token_block(token=first)
    changes = token_changes_after(0)
    assert [(c.token_id, c.reason) for c in changes] == [
        (first.pk, "issued"),
        (second.pk, "issued"),
        (first.pk, "blocked"),
    ]
    assert [c.reason for c in token_changes_after(changes[1].pk)] == ["blocked"]


def test_same_uid_may_exist_for_different_token_types(driver: Driver) -> None:
    token_issue(driver=driver, uid="SAME", type=Token.Type.RFID)
    app = token_issue(driver=driver, uid="SAME", type=Token.Type.APP_USER)
    assert token_get("SAME", Token.Type.APP_USER) == app


def test_a_uid_is_one_token_in_any_case(driver: Driver) -> None:
    """OCPI uids are case-insensitive: found in any case, and a second token differing only in case is refused,
    in the back office's form (the constraint's message) and in the database."""
    card = token_issue(driver=driver, uid="04aBcD")
    assert token_get("04ABCD") == card
    assert token_get("04abcd") == card
    twin = Token(driver=driver, uid="04ABCD", type=Token.Type.RFID, contract_id="NL-EMS-C99999999-X")
    with pytest.raises(ValidationError, match="uids ignore case"):
        twin.validate_constraints()
    with pytest.raises(IntegrityError), transaction.atomic():
        token_issue(driver=driver, uid="04abcd")
