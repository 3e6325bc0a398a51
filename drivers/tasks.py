"""Celery tasks of the drivers app."""

from __future__ import annotations

from celery import shared_task

from .services import tokens_expire_due


@shared_task(name="drivers.expire_tokens")
def expire_tokens_task() -> int:
    """Expire tokens past their `expires_at`; each expiry is a token change, pushed to every CPO."""
    return tokens_expire_due()
