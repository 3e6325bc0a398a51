"""Rows that may be written a moment late, written in bulk by a background thread.

For high-volume records that are not the source of truth (the OCPI request log, EVSE status history):
the request that produces them does not pay a database round trip for them. Rows are flushed every
BULK_WRITE_FLUSH_SECONDS and at process exit; a crash loses at most that window. While the database is
unreachable (a restart, a failover) the rows wait in memory and go with the next flush that succeeds, up to
BULK_WRITE_MAX_PENDING rows per model; beyond that the oldest are dropped, with a count in the log. Rows the
database refuses for themselves (a constraint, a value too long) are dropped at once: kept, they would block
every later flush. With the setting at 0 (tests) each row is saved at once.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import Generic, TypeVar

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, models

from .bulkupsert import bulk_insert

M = TypeVar("M", bound=models.Model)

logger = logging.getLogger(__name__)


class BulkWriter(Generic[M]):
    def __init__(self, model: type[M]) -> None:
        self.model = model
        self._rows: list[M] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, row: M) -> None:
        if settings.BULK_WRITE_FLUSH_SECONDS <= 0:
            row.save()
            return
        with self._lock:
            self._rows.append(row)
            if self._thread is None or not self._thread.is_alive():  # started lazily: after a fork too
                self._thread = threading.Thread(target=self._run, name=f"bulk-{self.model.__name__}", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return
        try:
            bulk_insert(self.model, rows)
        except (OperationalError, InterfaceError) as exc:  # the database is away: keep them for the next flush
            self._keep(rows, exc)
        except DatabaseError:
            logger.exception("could not write %d %s rows; dropped", len(rows), self.model.__name__)

    def _keep(self, rows: list[M], exc: Exception) -> None:
        with self._lock:
            self._rows[:0] = rows
            dropped = max(len(self._rows) - settings.BULK_WRITE_MAX_PENDING, 0)
            del self._rows[:dropped]
            pending = len(self._rows)
        logger.warning(
            "could not write %d %s rows (%s); %d waiting for the next flush%s",
            len(rows),
            self.model.__name__,
            str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
            pending,
            f", {dropped} oldest dropped" if dropped else "",
        )

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.BULK_WRITE_FLUSH_SECONDS)
            self.flush()
            connection.close_if_unusable_or_obsolete()
