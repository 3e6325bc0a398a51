"""Tariffs module, 2.3.0: `tax_included` (required) says whether PriceComponent prices include taxes; min_price
and max_price are PriceLimits (before and after taxes).

Reference: OCPI 2.3.0-ed2 mod_tariffs.asciidoc (examples tariff_19: taxes on top, tariff_20: taxes included).
"""

from __future__ import annotations

from ..v2_2_1 import tariffs as v221
from .types import PriceLimit, TaxIncluded


class Tariff(v221.Tariff):
    min_price: PriceLimit | None = None  # type: ignore[assignment]
    max_price: PriceLimit | None = None  # type: ignore[assignment]
    tax_included: TaxIncluded  # a closed enum: it decides how every price is read, a value we don't know is 2001


class CdrTariff(Tariff):
    """A tariff inside a CDR. The spec's own CDR example leaves out `tax_included` there, so a CDR is not refused
    for it (money is at stake): absent reads as 2.2.1 did, prices excl. taxes."""

    tax_included: TaxIncluded | None = None  # type: ignore[assignment]
