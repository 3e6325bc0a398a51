"""Writing what CPOs publish as tariffs: PUT, DELETE and pull-sync pages share one write path."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from roaming.models import Partner, PriceComponent, Tariff, TariffElement
from roaming.records import TariffData
from roaming.signals import tariffs_stored

from .common import Party, StaleUpdate, UnknownObject, UpsertResult, upsert_objects

_TARIFF_FIELDS = (
    "currency",
    "type",
    "min_price_excl_vat",
    "min_price_incl_vat",
    "max_price_excl_vat",
    "max_price_incl_vat",
    "start_date_time",
    "end_date_time",
    "alt_text",
    "alt_url",
    "energy_mix",
    "extra",
    "last_updated",
)


def tariffs_upsert(*, partner: Partner, items: list[TariffData]) -> UpsertResult:
    """Create or replace tariffs with their elements, in one transaction; stale and unchanged are skipped."""
    with transaction.atomic():
        result, (written, _) = upsert_objects(Tariff, partner=partner, items=items, update_fields=_TARIFF_FIELDS)
        if written:
            _replace_elements([pk for pk, _ in written], [item for _, item in written])
            # CDRs that named these tariffs before we held them are linked by whoever re-prices them
            # (`cdrs_link`): finding them here would mean reading every recent CDR's periods.
            tariffs_stored.send(sender=Tariff, keys=[(i.country_code, i.party_id, i.ocpi_id) for _, i in written])
    return result


def _replace_elements(tariff_ids: list[int], items: list[TariffData]) -> None:
    """Elements have no identity of their own in OCPI: a changed tariff gets its list anew."""
    TariffElement.objects.filter(tariff_id__in=tariff_ids).delete()
    elements = TariffElement.objects.bulk_create(
        [
            TariffElement(tariff_id=tariff_id, position=position, restrictions=element.restrictions)
            for tariff_id, item in zip(tariff_ids, items, strict=True)
            for position, element in enumerate(item.elements)
        ]
    )
    sources = [element for item in items for element in item.elements]
    PriceComponent.objects.bulk_create(
        [
            PriceComponent(element=element, position=position, **component)
            for element, source in zip(elements, sources, strict=True)
            for position, component in enumerate(source.components)
        ]
    )


def tariff_delete(*, party: Party, tariff_id: str) -> None:
    """The CPO no longer uses the tariff. Kept (sessions and CDRs refer to it), marked removed."""
    updated = Tariff.objects.filter(
        country_code=party[0], party_id=party[1], ocpi_id=tariff_id, removed_at__isnull=True
    ).update(removed_at=timezone.now())
    if not updated:
        if Tariff.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=tariff_id).exists():
            raise StaleUpdate(f"Tariff {tariff_id} was already deleted.")
        raise UnknownObject(f"Unknown tariff {party[0]}/{party[1]}/{tariff_id}.")
