"""Writing the invoice reconciliation records CPOs send us (direct billing): push and pull share this path.

A record replaces the stored one unless it is older (`last_updated`): then it is stale and nothing changes,
as with every other object a CPO owns. Each live record's CDR ids are also kept as lines keyed in upper case
(CDR ids are case-insensitive), which is what finance matches against our CDRs.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from roaming.models import InvoiceReconciliationCdr, InvoiceReconciliationRecord, Partner
from roaming.records import InvoiceReconciliationData

from .common import Party, StaleUpdate, UnknownObject, UpsertResult


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
