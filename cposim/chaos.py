"""Seeded misbehaviour: the failure modes real CPO platforms show, on demand and reproducibly."""

from __future__ import annotations

import random
import threading

from cposim.config import ChaosConfig


class Chaos:
    """Rolls the dice for `ChaosConfig`; the config object may be changed while running."""

    def __init__(self, config: ChaosConfig, seed: int) -> None:
        self.config = config
        self._rng = random.Random(f"chaos:{seed}")
        self._lock = threading.Lock()

    def roll(self, share: float) -> bool:
        if share <= 0:
            return False
        with self._lock:
            return self._rng.random() < share

    def incoming(self) -> str | None:
        """What to do to an incoming functional request: "timeout", "error", "throttle" or nothing."""
        if self.roll(self.config.timeout_share):
            return "timeout"
        if self.roll(self.config.error_share):
            return "error"
        if self.roll(self.config.throttle_share):
            return "throttle"
        return None

    @property
    def latency_seconds(self) -> float:
        return max(self.config.latency_ms, 0) / 1000
