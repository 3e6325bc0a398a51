"""Celery tasks of the platform itself."""

from __future__ import annotations

from celery import shared_task

from emsp.lib.tasks import outbox_sweep


@shared_task(name="emsp.outbox_sweep")
def outbox_sweep_task() -> int:
    """Periodic: send what the broker did not take after its commit (or, without a broker, run it here)."""
    return outbox_sweep().sent
