"""Celery tasks of billing: thin, they call the services. Idempotent, so `acks_late` re-runs are harmless."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from billing.documents import invoice_documents_store
from billing.dunning import dunning_run
from billing.invoicing import billing_zone, invoice_run, previous_period
from billing.models import InvoiceRun
from billing.services import cdrs_price, cdrs_price_pending

BATCH_SIZE = 200
#: A run drains at most this many batches; the next run (a minute later) takes the rest.
MAX_BATCHES = 50


@shared_task(name="billing.price_cdrs")
def price_cdrs_task(cdr_ids: list[int] | None = None) -> int:
    """Price these CDRs (new ones, or ones whose tariff or location arrived), or else drain the backlog."""
    if cdr_ids is not None:
        result = cdrs_price(cdr_ids=cdr_ids)
        return result.priced + result.unpriced
    done = 0
    for _ in range(MAX_BATCHES):
        taken = cdrs_price_pending(limit=BATCH_SIZE)
        done += taken
        if taken < BATCH_SIZE:
            break
    return done


@shared_task(name="billing.dunning_run")
def dunning_run_task() -> dict[str, int]:
    """The daily dunning: reminders due today, suspensions after the last one (idempotent per day)."""
    outcome = dunning_run()
    return {"reminders": outcome.reminders, "suspended": outcome.suspended}


@shared_task(name="billing.invoice_run", soft_time_limit=3600, time_limit=3900)
def invoice_run_task(run_id: int | None = None, period: str | None = None) -> int:
    """Run the invoicing started in the admin (`run_id`), or that of `period` (ISO date), or by default (the
    monthly beat job) that of the month before this one in BILLING_TIME_ZONE. Returns the invoices created.
    An hour's limit, not the default minutes: a run over 50,000 drivers takes minutes, and one cut short is
    only finished by the next run."""
    if run_id is not None:
        run = InvoiceRun.objects.get(pk=run_id)
        return invoice_run(period=run.period, run=run).invoices_created
    month = date.fromisoformat(period) if period else previous_period(timezone.now().astimezone(billing_zone()).date())
    return invoice_run(period=month).invoices_created


@shared_task(name="billing.invoice_documents_render")
def invoice_documents_render_task(invoice_ids: list[int]) -> int:
    """Render and store the PDFs of these invoices (those that have none yet): after an invoice run."""
    return invoice_documents_store(invoice_ids=invoice_ids)
