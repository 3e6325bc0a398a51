"""Simulated time: follows the wall clock, or stands still until a test advances it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cposim import protocol


class Clock:
    """`now()` is the wall clock (or a frozen start) plus everything `advance()` added.

    Freezing makes session timestamps, charging volumes and prices exact in tests without
    sleeping; the live mode uses the wall clock so `last_updated` values look real.
    """

    def __init__(self, start: datetime | None = None, on_advance: Callable[[int], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._frozen = None if start is None else start.astimezone(UTC).replace(microsecond=0)
        self._offset = 0
        self._on_advance = on_advance

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def now(self) -> datetime:
        with self._lock:
            base = self._frozen if self._frozen is not None else protocol.utc_now()
            return base + timedelta(seconds=self._offset)

    def epoch(self) -> int:
        return protocol.to_epoch(self.now())

    def advance(self, seconds: int) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += int(seconds)
        if self._on_advance is not None:
            self._on_advance(self.epoch())

    def resume(self, epoch: int) -> None:
        """Continue a frozen clock from a saved moment, so time never runs backwards on restart."""
        behind = epoch - self.epoch()
        if self.frozen and behind > 0:
            with self._lock:
                self._offset += behind
