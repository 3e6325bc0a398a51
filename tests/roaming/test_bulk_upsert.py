"""`bulk_upsert` and `bulk_insert`: COPY on PostgreSQL, bulk_create elsewhere; same results on both."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from emsp.lib.bulkupsert import bulk_insert, bulk_insert_rows, bulk_upsert
from emsp.lib.bulkwrite import BulkWriter
from roaming.models import Location, OcpiRequestLog, Partner

from .conftest import registered_partner

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(partner: Partner, ocpi_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "partner_id": partner.pk,
        "country_code": "NL",
        "party_id": "CPO",
        "ocpi_id": ocpi_id,
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "country": "NLD",
        "latitude": Decimal("52.0907370"),
        "longitude": Decimal("5.1214200"),
        "facilities": ["CAFE"],
        "opening_times": None,
        "extra": {"note": 'quotes " and \\ backslashes\tand tabs', "nested": {"n": 1}},
        "last_updated": T0,
        **changes,
    }


def _upsert(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return bulk_upsert(
        Location,
        rows,
        unique_fields=("country_code", "party_id", "ocpi_id"),
        update_fields=("city", "extra", "opening_times", "last_updated"),
        returning=("pk", "ocpi_id"),
    )


@pytest.mark.django_db(transaction=True)
def test_inserts_then_updates_only_the_listed_fields() -> None:
    partner, _ = registered_partner("Upsert CPO", [("NL", "CPO")])
    created = _upsert([_row(partner, "L1"), _row(partner, "L2")])
    assert sorted(ocpi_id for _, ocpi_id in created) == ["L1", "L2"]
    first = Location.objects.get(ocpi_id="L1")
    assert {pk for pk, _ in created} == set(Location.objects.values_list("pk", flat=True))
    assert first.extra == {"note": 'quotes " and \\ backslashes\tand tabs', "nested": {"n": 1}}
    assert first.facilities == ["CAFE"]
    assert first.opening_times is None
    assert first.latitude == Decimal("52.0907370")
    assert first.publish is True
    assert first.charging_when_closed is True
    assert first.created_at is not None
    assert first.updated_at is not None

    later = datetime(2026, 2, 1, tzinfo=UTC)
    updated = _upsert(
        [
            _row(
                partner,
                "L1",
                city="Amersfoort",
                address="Not updated",
                opening_times={"twentyfourseven": True},
                last_updated=later,
            )
        ]
    )
    assert updated == [(first.pk, "L1")]  # same row, no new key
    again = Location.objects.get(pk=first.pk)
    assert again.city == "Amersfoort"
    assert again.opening_times == {"twentyfourseven": True}
    assert again.last_updated == later
    assert again.address == "Stationsplein 1"  # not in update_fields
    assert again.created_at == first.created_at  # auto_now_add kept on update
    assert again.updated_at > first.updated_at  # auto_now moves
    assert Location.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_without_update_fields_a_stored_row_is_left_as_it_is() -> None:
    """Not even its `auto_now` time moves: the caller learns which rows it inserted (those returned)."""
    partner, _ = registered_partner("Upsert CPO", [("NL", "CPO")])
    _upsert([_row(partner, "L1")])
    first = Location.objects.get(ocpi_id="L1")
    written = bulk_upsert(
        Location,
        [_row(partner, "L1", city="Amersfoort"), _row(partner, "L2")],
        unique_fields=("country_code", "party_id", "ocpi_id"),
        update_fields=(),
        returning=("pk", "ocpi_id"),
    )
    again = Location.objects.get(pk=first.pk)
    assert (again.city, again.updated_at) == ("Utrecht", first.updated_at)
    assert Location.objects.filter(ocpi_id="L2").exists()
    if connection.vendor == "postgresql":  # bulk_create(ignore_conflicts=True) gives no keys back
        assert written == [(Location.objects.get(ocpi_id="L2").pk, "L2")]


@pytest.mark.django_db(transaction=True)
def test_bulk_insert_rows_gives_the_new_keys_in_row_order() -> None:
    partner, _ = registered_partner("Insert CPO", [("NL", "CPO")])
    _upsert([_row(partner, "L0")])
    keys = bulk_insert_rows(Location, [_row(partner, f"L{n}") for n in (3, 1, 2)], keys=True)
    assert [Location.objects.get(pk=key).ocpi_id for key in keys] == ["L3", "L1", "L2"]
    assert len(set(keys)) == 3
    later = bulk_insert_rows(Location, [_row(partner, "L4")], keys=True)  # the sequence moved past them
    assert later[0] not in keys
    assert Location.objects.get(pk=later[0]).extra == _row(partner, "L4")["extra"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_upsert_writes_nothing() -> None:
    partner, _ = registered_partner("Upsert CPO", [("NL", "CPO")])
    with pytest.raises(IntegrityError):
        _upsert([_row(partner, "L1"), _row(partner, "L2", address=None)])  # address is NOT NULL
    assert not Location.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_nothing_to_write() -> None:
    assert _upsert([]) == []


@pytest.mark.django_db(transaction=True)
def test_bulk_insert_writes_new_rows_as_given_with_their_automatic_times() -> None:
    partner, _ = registered_partner("Insert CPO", [("NL", "CPO")])
    before = timezone.now()
    bulk_insert(Location, [Location(**_row(partner, "L1")), Location(**_row(partner, "L2", opening_times={"a": 1}))])
    first, second = Location.objects.order_by("ocpi_id")
    assert first.extra == {"note": 'quotes " and \\ backslashes\tand tabs', "nested": {"n": 1}}
    assert (first.opening_times, second.opening_times) == (None, {"a": 1})
    assert (first.latitude, first.facilities, first.partner_id) == (Decimal("52.0907370"), ["CAFE"], partner.pk)
    assert first.created_at >= before
    assert first.updated_at >= before


@pytest.mark.django_db(transaction=True)
def test_the_background_writer_writes_request_log_rows_when_flushed(settings: Any) -> None:
    settings.BULK_WRITE_FLUSH_SECONDS = 3600  # the thread waits; the test flushes
    partner, _ = registered_partner("Log CPO", [("NL", "CPO")])
    writer: BulkWriter[OcpiRequestLog] = BulkWriter(OcpiRequestLog)
    for n in range(3):
        writer.add(
            OcpiRequestLog(direction="IN", partner=partner, method="POST", url=f"/ocpi/{n}", request_body='{"a":\t"b"}')
        )
    assert not OcpiRequestLog.objects.exists()
    writer.flush()
    rows = list(OcpiRequestLog.objects.order_by("url").values_list("url", "partner_id", "request_body"))
    assert rows == [(f"/ocpi/{n}", partner.pk, '{"a":\t"b"}') for n in range(3)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="cuts a real PostgreSQL connection")
@pytest.mark.django_db(transaction=True)
def test_rows_wait_while_the_database_is_away_and_a_refused_row_is_dropped(settings: Any) -> None:
    """The writer's connection is cut (as by a database restart): the flush fails and the rows wait, bounded
    by BULK_WRITE_MAX_PENDING (the oldest dropped); the next flush writes them. Rows the database refuses
    for themselves are dropped, or they would block every later flush."""
    settings.BULK_WRITE_FLUSH_SECONDS, settings.BULK_WRITE_MAX_PENDING = 3600, 4
    partner, _ = registered_partner("Log CPO", [("NL", "CPO")])
    writer: BulkWriter[OcpiRequestLog] = BulkWriter(OcpiRequestLog)

    def log(url: str, method: str = "PUT") -> None:
        writer.add(OcpiRequestLog(direction="IN", partner=partner, method=method, url=url))

    for n in range(3):
        log(f"/ocpi/{n}")
    with psycopg.connect(**_params()) as other:  # what a restart does to every open connection
        other.execute("SELECT pg_terminate_backend(%s)", [_backend_pid()])
    writer.flush()
    assert len(writer._rows) == 3  # kept
    connection.close()  # what the writer's thread does after a failed flush (close_if_unusable_or_obsolete)
    with psycopg.connect(**_params()) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [_backend_pid()])
    log("/ocpi/3")
    log("/ocpi/4")
    writer.flush()
    assert [row.url for row in writer._rows] == ["/ocpi/1", "/ocpi/2", "/ocpi/3", "/ocpi/4"]  # at most 4
    connection.close()

    writer.flush()
    assert sorted(OcpiRequestLog.objects.values_list("url", flat=True)) == ["/ocpi/1", "/ocpi/2", "/ocpi/3", "/ocpi/4"]
    log("/ocpi/5", method="TOOLONGMETHOD")  # over max_length=8: PostgreSQL refuses the row itself
    writer.flush()
    assert writer._rows == []
    assert OcpiRequestLog.objects.count() == 4


def _params() -> dict[str, Any]:
    return {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}


def _backend_pid() -> int:
    connection.ensure_connection()
    return int(connection.connection.info.backend_pid)
