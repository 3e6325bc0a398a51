"""Celery tasks of the roaming app: thin wrappers that load rows and call the services.

Retry policy for a sync: transient failures (CPO down, timeouts, 5xx, OCPI 3xxx: the client has
already retried each request a few times) retry the whole run after 1, 2, 5, 10 and 30 minutes.
Pages already written stay written and unchanged objects are skipped, so a retry is cheap. Permanent
failures (4xx, 2xxx, not registered) are recorded on the run and not retried.
"""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.utils import timezone

from emsp.lib.tasks import enqueue
from roaming.models import OcpiRequestLog, Partner
from roaming.services.charging_preferences import preferences_send_stale
from roaming.services.commands import command_send, commands_send_due, commands_time_out
from roaming.services.hubs import hub_clients_pull
from roaming.services.invoicereconciliation import issued_invoice_record_push, issued_invoice_records_enqueue_due
from roaming.services.partners import purge_expired_tokens
from roaming.services.schedules import MODULES
from roaming.services.tokens import TOKEN_PUSH_RETRY_DELAYS, push_token_changes, token_changes_enqueue
from roaming.sync import SyncError, sync_partner
from roaming.sync_invoices import invoice_records_pull_due

SYNC_RETRY_DELAYS = (60, 120, 300, 600, 1800)  # seconds


@shared_task(bind=True, name="roaming.sync_partner", max_retries=len(SYNC_RETRY_DELAYS))
def sync_partner_task(self: Task, partner_id: int, module: str, full: bool = False) -> int:
    partner = Partner.objects.get(pk=partner_id)
    try:
        return sync_partner(partner=partner, module=module, full=full, attempt=self.request.retries + 1).pk
    except SyncError as exc:
        if exc.permanent:
            raise
        raise self.retry(
            exc=exc, countdown=SYNC_RETRY_DELAYS[min(self.request.retries, len(SYNC_RETRY_DELAYS) - 1)]
        ) from exc


@shared_task(name="roaming.hub_clients_pull")
def hub_clients_pull_task(partner_id: int, first_pull: bool = True) -> int:
    """The parties behind a hub, then (first pull) the full pull of their objects, which needs them known."""
    partner = Partner.objects.get(pk=partner_id)
    outcome = hub_clients_pull(partner=partner)
    if first_pull:
        for module in MODULES:
            enqueue(sync_partner_task, partner.pk, str(module), True)
    return outcome.new


@shared_task(name="roaming.pull_invoice_records")
def pull_invoice_records_task() -> dict[int, str]:
    """Periodic: the CPOs' new invoice reconciliation records (direct billing), for those that do not push them
    or whose pushes we missed."""
    return invoice_records_pull_due()


@shared_task(name="roaming.purge_request_log")
def purge_request_log_task() -> int:
    cutoff = timezone.now() - timedelta(days=settings.OCPI_REQUEST_LOG_RETENTION_DAYS)
    deleted, _ = OcpiRequestLog.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="roaming.purge_expired_tokens")
def purge_expired_tokens_task() -> int:
    return purge_expired_tokens()


# --- Tokens and commands ---------------------------------------------------------------------------------


@shared_task(bind=True, name="roaming.push_tokens", max_retries=len(TOKEN_PUSH_RETRY_DELAYS))
def push_tokens_task(self: Task, partner_id: int, only_when_due: bool = False) -> int:
    """Deliver the partner's pending token changes. A transient failure retries with the cursor's backoff on a
    worker; in-process (embedded, tests) the next periodic run retries instead of blocking the caller."""
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return 0
    outcome = push_token_changes(partner=partner, only_when_due=only_when_due or self.request.retries > 0)
    if outcome.error and not outcome.permanent and outcome.retry_in and not self.request.is_eager:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.sent


@shared_task(name="roaming.push_tokens_due")
def push_tokens_due_task() -> int:
    """Periodic: a push for every partner that takes our tokens and is not backing off. This is what makes
    the outbox durable: whatever was missed (CPO down, worker lost) is picked up within a minute."""
    return token_changes_enqueue(only_when_due=True)


@shared_task(name="roaming.push_invoice_record")
def push_invoice_record_task(record_id: int) -> bool:
    """Push one of our invoice reconciliation records to its CPO (reverse billing). Idempotent: a version
    delivered already is not sent again. A failure is recorded on the record with a backoff; the periodic
    `roaming.push_invoice_records_due` sends it again when due."""
    return issued_invoice_record_push(record_id=record_id).sent


@shared_task(name="roaming.push_invoice_records_due")
def push_invoice_records_due_task() -> int:
    """Periodic: a push for every record of ours the CPO does not hold in its current version."""
    return issued_invoice_records_enqueue_due()


@shared_task(name="roaming.commands_time_out")
def commands_time_out_task() -> int:
    return commands_time_out()


@shared_task(name="roaming.command_send")
def command_send_task(command_id: int, attempt: int) -> bool:
    """Attempt `attempt` of a command's POST, its earlier one certainly not processed by the CPO. Idempotent:
    the attempt is claimed once, and a command answered, resolved or past its window is left alone."""
    return command_send(command_id=command_id, attempt=attempt) is not None


@shared_task(name="roaming.commands_send_due")
def commands_send_due_task() -> dict[str, int]:
    """Periodic: attempts due whose task was lost; commands past their send window FAILED."""
    outcome = commands_send_due()
    return {"enqueued": outcome.enqueued, "failed": outcome.failed}


@shared_task(name="roaming.preferences_send_stale")
def preferences_send_stale_task() -> int:
    """Periodic: charging preferences stored but never sent (their sender died before the PUT)."""
    return preferences_send_stale()
