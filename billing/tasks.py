"""Celery tasks of billing: thin, they call the services. Idempotent, so `acks_late` re-runs are harmless."""

from __future__ import annotations

from celery import shared_task

from billing.documents import invoice_documents_store
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


@shared_task(name="billing.invoice_documents_render")
def invoice_documents_render_task(invoice_ids: list[int]) -> int:
    """Render and store the PDFs of these invoices (those that have none yet): after an invoice run."""
    return invoice_documents_store(invoice_ids=invoice_ids)
