"""Where the simulator keeps what it learns and changes: in memory, optionally mirrored to SQLite.

Everything is a JSON body under (kind, key), kept in insertion order, which is also the stable
"oldest first" order the OCPI list endpoints need. With a database path every write goes through
to SQLite, so a restarted simulator keeps its registration, tokens, sessions, CDRs and overlay.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from typing import Any

from cposim import protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""


class Store:
    """A small thread-safe document store; `kind` is e.g. "token", "session", "cdr"."""

    def __init__(self, path: str | None = None) -> None:
        self._lock = threading.RLock()
        self._data: dict[str, dict[str, Any]] = {}
        self._seq = 0
        self._db: sqlite3.Connection | None = None
        if path:
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
            rows = self._db.execute("SELECT kind, key, seq, body FROM objects ORDER BY seq").fetchall()
            for kind, key, seq, body in rows:
                self._data.setdefault(kind, {})[key] = protocol.loads(body)
                self._seq = max(self._seq, seq)

    def get(self, kind: str, key: str) -> Any:
        with self._lock:
            return self._data.get(kind, {}).get(key)

    def put(self, kind: str, key: str, body: Any) -> bool:
        """Insert or replace; returns True when the key is new. Replacing keeps the original order."""
        with self._lock:
            bucket = self._data.setdefault(kind, {})
            created = key not in bucket
            bucket[key] = body
            if self._db is not None:
                self._seq += 1
                self._db.execute(
                    "INSERT INTO objects (kind, key, seq, body) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                    (kind, key, self._seq, protocol.dumps(body).decode()),
                )
            return created

    def delete(self, kind: str, key: str) -> None:
        with self._lock:
            self._data.get(kind, {}).pop(key, None)
            if self._db is not None:
                self._db.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, key))

    def items(self, kind: str) -> list[tuple[str, Any]]:
        with self._lock:
            return list(self._data.get(kind, {}).items())

    def values(self, kind: str) -> list[Any]:
        with self._lock:
            return list(self._data.get(kind, {}).values())

    def count(self, kind: str) -> int:
        with self._lock:
            return len(self._data.get(kind, {}))

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
