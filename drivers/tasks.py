"""Celery tasks of the drivers app."""

from __future__ import annotations

from celery import shared_task

from .accounts import EmailKind, account_email_send
from .services import tokens_expire_due


@shared_task(name="drivers.expire_tokens")
def expire_tokens_task() -> int:
    """Expire tokens past their `expires_at`; each expiry is a token change, pushed to every CPO."""
    return tokens_expire_due()


@shared_task(name="drivers.send_account_email")
def account_email_task(user_id: int, kind: EmailKind) -> bool:
    """Write and send an account email (confirm the address, reset the password); see `drivers.accounts`."""
    return account_email_send(user_id=user_id, kind=kind)
