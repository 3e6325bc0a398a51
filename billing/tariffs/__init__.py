"""The OCPI 2.2.1 tariff engine: pure Python (no Django, nothing of the platform), Decimal money, UTC datetimes.

    from billing.tariffs import price_cdr
    from billing.tariffs.ocpi_json import cdr_from_ocpi, tariffs_from_ocpi

    result = price_cdr(cdr_from_ocpi(cdr_json), time_zone="Europe/Amsterdam", available=tariffs_from_ocpi(t))

The rules and the choices we made where OCPI is silent are in docs/billing.md.
"""

from billing.tariffs.engine import price_cdr, select_tariff, validate_cdr
from billing.tariffs.types import (
    Cdr,
    CdrPrice,
    ChargingPeriod,
    DayOfWeek,
    LineKind,
    Price,
    PriceComponent,
    PriceLine,
    ReservationRestriction,
    Restrictions,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffInputError,
    TariffType,
    TaxIncluded,
)

__all__ = [
    "Cdr",
    "CdrPrice",
    "ChargingPeriod",
    "DayOfWeek",
    "LineKind",
    "Price",
    "PriceComponent",
    "PriceLine",
    "ReservationRestriction",
    "Restrictions",
    "Tariff",
    "TariffDimension",
    "TariffElement",
    "TariffInputError",
    "TariffType",
    "TaxIncluded",
    "price_cdr",
    "select_tariff",
    "validate_cdr",
]
