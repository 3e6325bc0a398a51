"""Tariffs module, 2.1.1: no country_code/party_id (the party is the one in the URL, or the connection's CPO on a
pull), no type, min/max price or validity period; price components without `vat` (every 2.1.1 price and cost is
excl. VAT). The eMSP's Receiver takes PATCH (removed in 2.2).

Reference: OCPI 2.1.1-d2 mod_tariffs.md. Elements and restrictions read with 2.2.1's models, whose fields are a
superset of 2.1.1's and optional (`vat` included).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..v2_2_1.tariffs import _MAX_POSITIONS, TariffElement
from ..v2_2_1.types import URL, CiString36, DateTime, DisplayText, NonEmptyList, OcpiModel, OptionalList, String3
from .locations import EnergyMix


class Tariff(OcpiModel):
    id: CiString36
    currency: String3
    tariff_alt_text: OptionalList[DisplayText] = Field(default_factory=list)
    tariff_alt_url: URL | None = None
    elements: Annotated[NonEmptyList[TariffElement], Field(max_length=_MAX_POSITIONS)]
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
