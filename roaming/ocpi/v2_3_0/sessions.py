"""Sessions and CDRs, 2.3.0: costs are Prices with taxes (`before_taxes`, `taxes`), and CDRs carry 2.3.0 tariffs.

Reference: OCPI 2.3.0-ed2 mod_sessions.asciidoc, mod_cdrs.asciidoc, types.asciidoc (Price, TaxAmount).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from ..v2_2_1 import cdrs as v221_cdrs
from ..v2_2_1 import sessions as v221
from ..v2_2_1.tokens import TokenType as TokenType221
from ..v2_2_1.types import OpenEnum, OptionalList
from .tariffs import CdrTariff
from .types import Price, extended

if TYPE_CHECKING:
    TokenType = TokenType221
else:
    TokenType = extended(TokenType221, "EMAID")


class CdrToken(v221_cdrs.CdrToken):
    type: OpenEnum[TokenType]


class Session(v221.Session):
    cdr_token: CdrToken
    total_cost: Price | None = None  # type: ignore[assignment]


class SessionPatch(v221.SessionPatch):
    cdr_token: CdrToken | None = None
    total_cost: Price | None = None  # type: ignore[assignment]


class CDR(v221_cdrs.CDR):
    cdr_token: CdrToken
    tariffs: OptionalList[CdrTariff] = Field(default_factory=list)  # type: ignore[assignment]
    total_cost: Price  # type: ignore[assignment]
    total_fixed_cost: Price | None = None  # type: ignore[assignment]
    total_energy_cost: Price | None = None  # type: ignore[assignment]
    total_time_cost: Price | None = None  # type: ignore[assignment]
    total_parking_cost: Price | None = None  # type: ignore[assignment]
    total_reservation_cost: Price | None = None  # type: ignore[assignment]
