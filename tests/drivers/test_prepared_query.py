"""`PreparedQuery`: compiled once, then the same instances as the queryset it was built from."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Value
from django.utils import timezone

from drivers.models import Driver, Token
from drivers.services import driver_create, token_issue
from emsp.lib.prepared import PreparedQuery

pytestmark = pytest.mark.django_db

with_driver = PreparedQuery(
    lambda uid, type: Token.objects.select_related("driver").filter(uid=uid, type=type).annotate(marked=Value(7)),
    "uid",
    "type",
)


@pytest.fixture
def driver() -> Driver:
    driver = driver_create(user=get_user_model().objects.create_user("ann", "ann@example.com", "pw"))
    Driver.objects.filter(pk=driver.pk).update(credit_limit=Decimal("12.50"), outstanding=Decimal("0.10"))
    return driver


def test_same_instances_as_the_queryset(driver: Driver) -> None:
    expires = timezone.now() + timedelta(days=30)
    token = token_issue(driver=driver, uid="CARD1", expires_at=expires)
    token_issue(driver=driver, uid="CARD1", type=Token.Type.APP_USER)

    (found,) = with_driver.all(uid="CARD1", type=Token.Type.RFID)
    expected = Token.objects.select_related("driver").get(pk=token.pk)
    for field in Token._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    assert found.expires_at == expires  # a converted value (a string on SQLite before conversion)
    assert found.driver.credit_limit == Decimal("12.50")
    assert found.driver.outstanding == Decimal("0.10")
    assert found.marked == 7  # type: ignore[attr-defined]
    assert found._state.adding is False
    found.visual_number = "changed"
    found.save(update_fields=["visual_number"])  # a normal, stored instance
    assert Token.objects.get(pk=token.pk).visual_number == "changed"


def test_values_reach_their_own_placeholders(driver: Driver) -> None:
    token_issue(driver=driver, uid="A")
    token_issue(driver=driver, uid="B", type=Token.Type.APP_USER)
    assert [t.uid for t in with_driver.all(uid="B", type=Token.Type.APP_USER)] == ["B"]
    assert with_driver.all(uid="B", type=Token.Type.RFID) == []
    assert with_driver.all(uid="x' OR '1'='1", type=Token.Type.RFID) == []  # values are parameters


def test_positions_and_width_describe_the_select(driver: Driver) -> None:
    token = token_issue(driver=driver, uid="A")
    sql, params = with_driver.sql(uid="A", type=Token.Type.RFID)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    assert len(row) == with_driver.width()
    assert row[with_driver.position("id")] == token.pk
    assert row[with_driver.position("marked")] == 7
    assert with_driver.instances([row])[0].pk == token.pk
    with pytest.raises(KeyError):
        with_driver.position("no_such_column")


def test_wrong_values_and_lookups_that_change_the_value_are_refused() -> None:
    with pytest.raises(TypeError):
        with_driver.all(uid="A")
    with pytest.raises(ValueError):
        PreparedQuery(lambda pk: Token.objects.filter(pk=pk), "pk")  # an integer look-up
    containing = PreparedQuery(lambda text: Token.objects.filter(visual_number__contains=text), "text")
    with pytest.raises(ValueError, match="did not reach the SQL"):
        containing.all(text="12")  # the SQL gets '%12%', not the value


def test_each_thread_uses_its_own_connection(driver: Driver) -> None:
    """Django's connections are per thread; a statement compiled in one thread must not run on another's."""
    token_issue(driver=driver, uid="A")
    with_driver.all(uid="A", type=Token.Type.RFID)  # compiled in this thread
    seen: list[object] = []

    def other() -> None:
        try:
            seen.append(with_driver.all(uid="nobody", type=Token.Type.RFID))
        except Exception as exc:
            seen.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [[]]


def test_integer_look_ups_declared_as_ints(driver: Driver) -> None:
    mine = PreparedQuery(
        lambda pk, owner: Token.objects.select_related("driver").filter(pk=pk, driver_id=owner), ints=("pk", "owner")
    )
    token = token_issue(driver=driver, uid="A")
    other = driver_create(user=get_user_model().objects.create_user("bob", "bob@example.com", "pw"))
    (found,) = mine.all(pk=token.pk, owner=driver.pk)
    assert (found.uid, found.driver.pk) == ("A", driver.pk)
    assert mine.all(pk=token.pk, owner=other.pk) == []  # each value in its own place
    with pytest.raises(TypeError):
        mine.all(pk=str(token.pk), owner=driver.pk)  # an int's place takes ints only
    with pytest.raises(TypeError):
        mine.all(pk=True, owner=driver.pk)


expiring = PreparedQuery(
    lambda uid, at: Token.objects.select_for_update().filter(uid=uid, expires_at__gte=at), "uid", datetimes=("at",)
)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="datetimes reach the SQL as they are on PostgreSQL")
def test_datetimes_reach_their_placeholders_in_a_locking_query(driver: Driver) -> None:
    expires = timezone.now() + timedelta(days=30)
    token = token_issue(driver=driver, uid="A", expires_at=expires)
    assert [t.pk for t in expiring.all(uid="A", at=expires)] == [token.pk]
    assert expiring.all(uid="A", at=expires + timedelta(microseconds=1)) == []
    sql, _ = expiring.sql(uid="A", at=expires)
    assert "FOR UPDATE" in sql


def test_a_datetime_must_be_aware() -> None:
    with pytest.raises(TypeError):
        expiring.sql(uid="A", at=timezone.now().replace(tzinfo=None))
