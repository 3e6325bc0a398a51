"""Fixtures of the fault tests: real processes against the test database (PostgreSQL only: a gunicorn or
Celery process of its own must see what the test committed, and the audit triggers are PL/pgSQL)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.db import connection

from tests.conftest import _database_url
from tests.faults.procs import PrivateRedis


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def on_postgres(django_db_setup: None) -> str:
    """The test database's URL, for processes of our own; skips on SQLite."""
    if connection.vendor != "postgresql":
        pytest.skip("fault tests run processes against PostgreSQL (DATABASE_URL)")
    return _database_url()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    redis_server = PrivateRedis()
    redis_server.start()
    yield redis_server
    redis_server.stop()


class Ocpi:
    """A CPO platform calling one of our servers over HTTP with its token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Token " + base64.b64encode(token.encode()).decode()

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.session.request(method, f"{self.base_url}{path}", json=body, timeout=60)


@pytest.fixture
def pricing_audit(on_postgres: str) -> Iterator[str]:
    """A row per pricing of a CDR (its price's `priced_at` set or moved), written by a trigger in whichever
    process prices: a CDR priced twice has two rows. The table name is returned."""
    with connection.cursor() as cursor:
        cursor.execute("""
            CREATE TABLE IF NOT EXISTS faults_pricing_audit (cdr_id bigint NOT NULL, status text NOT NULL);
            TRUNCATE faults_pricing_audit;
            CREATE OR REPLACE FUNCTION faults_pricing_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO faults_pricing_audit VALUES (NEW.cdr_id, NEW.status);
                RETURN NEW;
            END $$;
            CREATE OR REPLACE TRIGGER faults_pricing_audit AFTER INSERT OR UPDATE OF priced_at ON billing_cdrprice
                FOR EACH ROW WHEN (NEW.priced_at IS NOT NULL) EXECUTE FUNCTION faults_pricing_audit();
        """)
    yield "faults_pricing_audit"
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS faults_pricing_audit ON billing_cdrprice; DROP TABLE faults_pricing_audit"
        )


def pricings() -> dict[int, int]:
    """How often each CDR was priced (see `pricing_audit`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cdr_id, count(*) FROM faults_pricing_audit GROUP BY cdr_id")
        return dict(cursor.fetchall())


@pytest.fixture
def emsp(live_server: Any, settings: Any) -> str:
    """Our base URL (the live server); OCPI_BASE_URL follows it."""
    settings.OCPI_BASE_URL = f"{live_server.url}/ocpi"
    return str(live_server.url)
