"""A lock held by a process for as long as it does something, and released by PostgreSQL when the process dies.

A row flag ("running") cannot tell a live holder from one killed with SIGKILL: nothing clears it. A
session-level advisory lock can: PostgreSQL drops it with the connection, so whoever takes it next knows that
any earlier holder is gone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection

_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


@contextmanager
def held_while_alive(name: str) -> Iterator[bool]:
    """Take the lock `name` for the block without waiting: True if taken, False if a live holder has it.

    Without PostgreSQL (SQLite: the embedded mode, where tasks run in threads of the one process) the lock is
    the process's own, which dies with the process just the same."""
    if connection.vendor != "postgresql":
        with _LOCAL_GUARD:
            lock = _LOCAL.setdefault(name, threading.Lock())
        taken = lock.acquire(blocking=False)
        try:
            yield taken
        finally:
            if taken:
                lock.release()
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
