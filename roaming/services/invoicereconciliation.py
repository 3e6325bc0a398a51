"""Invoice reconciliation records: writing those CPOs send us (direct billing; push and pull share this path),
and ours, for our invoices to CPOs (reverse billing: we are the Sender and push them).

A record replaces the stored one unless it is older (`last_updated`): then it is stale and nothing changes,
as with every other object a CPO owns. Each live record's CDR ids are also kept as lines keyed in upper case
(CDR ids are case-insensitive), which is what finance matches against our CDRs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from emsp.lib.tasks import enqueue
from roaming.models import (
    InvoiceReconciliationCdr,
    InvoiceReconciliationRecord,
    IssuedInvoiceRecord,
    Partner,
    PartnerEndpoint,
)
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.v2_3_0.mapping import invoice_record_to_ocpi
from roaming.records import InvoiceReconciliationData

from .common import Party, StaleUpdate, UnknownObject, UpsertResult

logger = logging.getLogger(__name__)

IR_MODULE = "invoicereconciliation"


def invoice_record_store(*, partner: Partner, record: InvoiceReconciliationData) -> bool:
    """Create or replace one record; answers whether it was created. `StaleUpdate` if ours is newer.

    A record the CPO deleted comes back only with a newer version of it.
    """
    values = {
        "partner": partner,
        "invoice_id": record.invoice_id,
        "cdr_ids": record.cdr_ids,
        "extra": record.extra,
        "last_updated": record.last_updated,
        "deleted_at": None,
    }
    with transaction.atomic():
        stored, created = InvoiceReconciliationRecord.objects.select_for_update().get_or_create(
            country_code=record.country_code, party_id=record.party_id, ocpi_id=record.ocpi_id, defaults=values
        )
        if not created:
            if record.last_updated < stored.last_updated or (
                stored.deleted_at is not None and record.last_updated == stored.last_updated
            ):  # a late resend of a withdrawn record must not bring it back
                raise StaleUpdate(f"Invoice reconciliation record {record.ocpi_id}: stored last_updated is newer.")
            for name, value in values.items():
                setattr(stored, name, value)
            stored.save()
            stored.lines.all().delete()
        InvoiceReconciliationCdr.objects.bulk_create(
            InvoiceReconciliationCdr(
                record=stored, country_code=record.country_code, party_id=record.party_id, cdr_key=cdr_id.upper()
            )
            for cdr_id in record.cdr_ids
        )
    return created


def invoice_records_upsert(*, partner: Partner, items: list[InvoiceReconciliationData]) -> UpsertResult:
    """A page of the CPO's Sender list. Few records (one per invoice), so one at a time is fine."""
    result = UpsertResult()
    for item in items:
        result.keys.add((item.country_code, item.party_id, item.ocpi_id))
        try:
            created = invoice_record_store(partner=partner, record=item)
        except StaleUpdate:
            result.stale += 1
            continue
        if created:
            result.created += 1
        else:
            result.updated += 1
    return result


def invoice_record_delete(*, party: Party, record_id: str) -> None:
    """The CPO withdraws a record sent in error: kept and flagged, its CDR ids count for nothing any more."""
    with transaction.atomic():
        stored = (
            InvoiceReconciliationRecord.objects.select_for_update()
            .filter(country_code=party[0], party_id=party[1], ocpi_id=record_id)
            .first()
        )
        if stored is None:
            raise UnknownObject(f"Unknown invoice reconciliation record {party[0]}/{party[1]}/{record_id}.")
        if stored.deleted_at is not None:
            raise StaleUpdate(f"Invoice reconciliation record {record_id} was already deleted.")
        stored.deleted_at = timezone.now()
        stored.save(update_fields=["deleted_at", "updated_at"])
        stored.lines.all().delete()


# --- Our own records, as the Sender (reverse billing) ----------------------------------------------------

# Backoff after failed pushes of a record, by failures in a row (the last one repeats); the periodic
# `roaming.push_invoice_records_due` sends what is due.
INVOICE_RECORD_PUSH_RETRY_DELAYS = (60, 300, 900, 3600)  # seconds


@dataclass
class RecordPush:
    sent: bool = False
    error: str = ""
    permanent: bool = False
    skipped: str = ""  # why nothing was tried


def issued_invoice_record_put(
    *, partner: Partner, record_id: str, invoice_id: str, cdr_ids: list[str]
) -> IssuedInvoiceRecord:
    """Create or replace our record for one of our invoices to the CPO, and queue its push in the same
    transaction (emsp.lib.tasks outbox): committed means it will reach the CPO. A replaced record gets a
    `last_updated` newer than the one the CPO holds, or its Receiver would ignore it as stale."""
    from roaming.tasks import push_invoice_record_task  # tasks import this module

    if not cdr_ids:
        raise ValueError("An invoice reconciliation record names at least one CDR.")
    now = timezone.now().replace(microsecond=0)
    with transaction.atomic():
        record = IssuedInvoiceRecord.objects.select_for_update().filter(ocpi_id=record_id).first()
        if record is None:
            record = IssuedInvoiceRecord(partner=partner, ocpi_id=record_id)
        elif record.partner_id != partner.pk:
            raise ValueError(f"Record {record_id} belongs to another partner.")
        else:
            now = max(now, record.last_updated + timedelta(seconds=1))
        record.country_code = settings.OCPI_COUNTRY_CODE
        record.party_id = settings.OCPI_PARTY_ID
        record.invoice_id = invoice_id
        record.cdr_ids = list(cdr_ids)
        record.last_updated = now
        record.push_failures, record.push_error, record.next_push_at = 0, "", None
        record.save()
        enqueue(push_invoice_record_task, record.pk)
    return record


def issued_invoice_record_push(*, record_id: int) -> RecordPush:
    """Send the record's current version to the CPO's Receiver: POST the first time, PUT at its own URL after.
    Idempotent: a version the CPO took already is not sent again (a redelivered task changes nothing)."""
    record = IssuedInvoiceRecord.objects.select_related("partner").filter(pk=record_id).first()
    if record is None:
        return RecordPush(skipped="no such record")
    if record.pushed_version == record.last_updated:
        return RecordPush(skipped="the CPO has this version")
    partner = record.partner
    url = partner.endpoint_url(IR_MODULE, PartnerEndpoint.InterfaceRole.RECEIVER)
    if partner.status != Partner.Status.REGISTERED or not url:
        return RecordPush(skipped=f"not registered or no {IR_MODULE} Receiver endpoint")
    body = invoice_record_to_ocpi(record)
    client = OcpiClient.for_partner(partner)
    try:
        if record.pushed_version is None:
            client.post(url.rstrip("/"), body, module=IR_MODULE)
        else:
            ids = "/".join(quote(part, safe="") for part in (record.country_code, record.party_id, record.ocpi_id))
            client.put(f"{url.rstrip('/')}/{ids}", body, module=IR_MODULE)
    except OcpiClientError as exc:
        failures = record.push_failures + 1
        delay = INVOICE_RECORD_PUSH_RETRY_DELAYS[min(failures, len(INVOICE_RECORD_PUSH_RETRY_DELAYS)) - 1]
        IssuedInvoiceRecord.objects.filter(pk=record.pk, last_updated=record.last_updated).update(
            push_failures=failures,
            push_error=str(exc)[:2000],
            next_push_at=timezone.now() + timedelta(seconds=delay),
        )
        logger.warning("record %s to partner %s not pushed (%d in a row): %s", record, partner.pk, failures, exc)
        return RecordPush(error=str(exc), permanent=exc.permanent)
    # Only the version sent: a change made meanwhile stays due.
    IssuedInvoiceRecord.objects.filter(pk=record.pk, last_updated=record.last_updated).update(
        pushed_version=record.last_updated, push_failures=0, push_error="", next_push_at=None
    )
    logger.info("invoice record %s pushed to partner %s", record, partner.pk)
    return RecordPush(sent=True)


def issued_invoice_records_due() -> QuerySet[IssuedInvoiceRecord]:
    """Records the CPO does not hold in their current version and that are not backing off after a failure."""
    now = timezone.now()
    return IssuedInvoiceRecord.objects.filter(
        Q(pushed_version__isnull=True) | ~Q(pushed_version=F("last_updated")),
        Q(next_push_at__isnull=True) | Q(next_push_at__lte=now),
    )


def issued_invoice_records_enqueue_due() -> int:
    """Periodic: queue a push of every due record (a lost task, a CPO that was down). Returns how many."""
    from roaming.tasks import push_invoice_record_task

    ids = list(issued_invoice_records_due().values_list("pk", flat=True)[:500])
    for pk in ids:
        enqueue(push_invoice_record_task, pk)
    return len(ids)
