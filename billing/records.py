"""Our stored rows as the tariff engine's records: held tariffs from their columns, CDRs as sent.

Held tariffs are read from the Tariff/TariffElement/PriceComponent columns (prefetched), not re-serialised
to OCPI JSON: pricing a backlog maps each tariff once per batch. Restrictions are kept as OCPI JSON on the
element, so they go through the engine's own reader.
"""

from __future__ import annotations

from billing.tariffs import Cdr as CdrRecord
from billing.tariffs import Price, PriceComponent, TariffDimension, TariffElement, TariffType, TaxIncluded
from billing.tariffs import Tariff as TariffRecord
from billing.tariffs.ocpi_json import cdr_from_ocpi, restrictions_from_ocpi
from roaming.models import Cdr, Tariff


def _price(excl: object, incl: object) -> Price | None:
    if excl is None:
        return None
    return Price(excl_vat=excl, incl_vat=incl)  # type: ignore[arg-type]


def tariff_record(tariff: Tariff) -> TariffRecord:
    """A held tariff as the engine's record. Expects `elements__price_components` prefetched."""
    elements = []
    for position, element in enumerate(tariff.elements.all()):
        elements.append(
            TariffElement(
                price_components=tuple(
                    PriceComponent(
                        type=TariffDimension(component.type),
                        price=component.price,
                        step_size=component.step_size,
                        vat=component.vat,
                    )
                    for component in element.price_components.all()
                ),
                restrictions=(
                    restrictions_from_ocpi(element.restrictions, f"elements[{position}].restrictions")
                    if element.restrictions is not None
                    else None
                ),
            )
        )
    return TariffRecord(
        id=tariff.ocpi_id,
        currency=tariff.currency,
        elements=tuple(elements),
        type=TariffType(tariff.type) if tariff.type else None,
        min_price=_price(tariff.min_price_excl_vat, tariff.min_price_incl_vat),
        max_price=_price(tariff.max_price_excl_vat, tariff.max_price_incl_vat),
        start_date_time=tariff.start_date_time,
        end_date_time=tariff.end_date_time,
        last_updated=tariff.last_updated,
        country_code=tariff.country_code,
        party_id=tariff.party_id,
        tax_included=TaxIncluded(tariff.tax_included) if tariff.tax_included else None,
    )


def cdr_record(cdr: Cdr) -> CdrRecord:
    """The CDR as sent (its own tariffs included), read by the engine's OCPI reader from `raw`."""
    return cdr_from_ocpi(cdr.raw)


def needs_local_time(tariffs: list[TariffRecord]) -> bool:
    """Whether any restriction reads the local clock or calendar: then the Location's time zone matters."""
    return any(
        r is not None and (r.start_time or r.end_time or r.start_date or r.end_date or r.day_of_week)
        for tariff in tariffs
        for r in (element.restrictions for element in tariff.elements)
    )
