"""A lock held by a process for as long as it does something, and released by PostgreSQL when the process dies.

A row flag ("running") cannot tell a live holder from one killed with SIGKILL: nothing clears it. A
session-level advisory lock can: PostgreSQL drops it with the connection, so whoever takes it next knows that
any earlier holder is gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection


@contextmanager
def held_while_alive(name: str) -> Iterator[bool | None]:
    """Take the lock `name` for the block without waiting: True if taken, False if another live process holds
    it; None where the database has no such lock (SQLite: the embedded mode, one process)."""
    if connection.vendor != "postgresql":
        yield None
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [name])
        taken = bool(cursor.fetchone()[0])
    try:
        yield taken
    finally:
        if taken:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [name])
            except DatabaseError:
                pass  # the connection is gone, and the lock with it
