"""Pull of a 2.3.0 CPO's invoice reconciliation records (its Sender interface), for CPOs that do not push them
and to catch up on what a push missed during a downtime.

Kept apart from `roaming.sync.MODULES` for now: that table's runs are per 2.2.1 module and recorded in
`SyncRun`, whose module choices do not know this one. It uses the same page parsing (`_parse_page`: invalid
objects and other parties' objects skipped and logged) and the one OCPI client. It runs hourly for every
partner with a Sender (`roaming.pull_invoice_records`, sync queue), from the newest record we hold.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Max

from roaming.models import InvoiceReconciliationRecord, Partner
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.v2_2_1.types import format_datetime
from roaming.ocpi.v2_3_0 import InvoiceReconciliationRecord as OcpiRecord
from roaming.ocpi.v2_3_0.mapping import invoice_record_data
from roaming.ocpi.versions import V2_2_1
from roaming.services.common import UpsertResult
from roaming.services.invoicereconciliation import invoice_records_upsert
from roaming.sync import PAGE_LIMIT, ModuleSync, SyncError, _parse_page

logger = logging.getLogger(__name__)

MODULE = "invoicereconciliation"

# A 2.3.0 module: its records are read the same whatever version the partner's other modules speak.
_SPEC = ModuleSync(
    lambda wire, party: (OcpiRecord.model_validate, invoice_record_data),
    invoice_records_upsert,
    InvoiceReconciliationRecord,
    detect_removals=False,
).for_wire(V2_2_1, ("", ""))


def invoice_records_pull(
    *, partner: Partner, date_from: datetime | None = None, client: OcpiClient | None = None
) -> UpsertResult:
    """Read the CPO's records (changed since `date_from`, else all) into ours; answers the counts.

    A record the CPO no longer lists is not deleted here: the Sender lists by `last_updated`, and a withdrawn
    record is announced by its DELETE.
    """
    url = partner.endpoint_url(MODULE, "SENDER")
    if partner.status != Partner.Status.REGISTERED or not url:
        raise SyncError(f"Partner {partner} is not registered or has no {MODULE} Sender endpoint.", permanent=True)
    params: dict[str, Any] = {"limit": PAGE_LIMIT}
    if date_from is not None:
        params["date_from"] = format_datetime(date_from)
    client = client or OcpiClient.for_partner(partner)
    parties = {(r.country_code.upper(), r.party_id.upper()) for r in partner.roles.all()}
    total = UpsertResult()
    invalid = 0
    try:
        for page in client.iter_pages(url, params=params, module=MODULE):
            items, skipped = _parse_page(_SPEC, page.data, parties)
            invalid += skipped
            result = invoice_records_upsert(partner=partner, items=items)
            total.created += result.created
            total.updated += result.updated
            total.stale += result.stale
            total.keys |= result.keys
    except OcpiClientError as exc:
        raise SyncError(str(exc), permanent=exc.permanent) from exc
    logger.info(
        "%s: pulled invoice reconciliation records: %d created, %d updated, %d stale, %d invalid",
        partner,
        total.created,
        total.updated,
        total.stale,
        invalid,
    )
    return total


def invoice_records_pull_due() -> dict[int, str]:
    """Periodic (`roaming.pull_invoice_records`): pull every registered partner with an invoicereconciliation
    Sender, from the newest record we hold of it less OCPI_SYNC_OVERLAP_SECONDS (a record the CPO made while
    another was being read still comes), everything the first time. One partner's failure does not stop the
    others; answers, per partner id, what happened."""
    partners = Partner.objects.filter(
        status=Partner.Status.REGISTERED, endpoints__module=MODULE, endpoints__role="SENDER"
    ).distinct()
    outcome: dict[int, str] = {}
    for partner in partners:
        newest = partner.invoice_records.aggregate(at=Max("last_updated"))["at"]
        since = newest - timedelta(seconds=settings.OCPI_SYNC_OVERLAP_SECONDS) if newest else None
        try:
            result = invoice_records_pull(partner=partner, date_from=since)
        except SyncError as exc:
            logger.warning("%s: invoice reconciliation pull failed: %s", partner, exc)
            outcome[partner.pk] = f"failed: {exc}"
            continue
        outcome[partner.pk] = f"{result.created} created, {result.updated} updated, {result.stale} stale"
    return outcome
