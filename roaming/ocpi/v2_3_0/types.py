"""OCPI 2.3.0 shared types: what 2.3.0 changes in types.asciidoc (Price with taxes, Role without HUB), and
`extended`, which gives an open enum the values 2.3.0 adds to 2.2.1's.

Everything else (CiString, DateTime, number, the base models, the JSON helpers) is 2.2.1's: `..v2_2_1.types`.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, TypeAlias, TypeVar

from pydantic import StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from ..v2_2_1.types import NUMBER_LIMIT, Number, OcpiModel, String255

String12: TypeAlias = Annotated[str, StringConstraints(max_length=12)]  # Parking.physical_reference
String50: TypeAlias = Annotated[str, StringConstraints(max_length=50)]  # EVSE.accepted_service_providers

_E = TypeVar("_E", bound=type[StrEnum])


def extended(base: _E, *values: str) -> _E:
    """`base` with the values 2.3.0 adds (name = value). Typed as `base`: the new values are a runtime matter of
    `OpenEnum`, which would keep them anyway, but logs them as unknown."""
    members = [(member.name, member.value) for member in base] + [(value, value) for value in values]
    return StrEnum(base.__name__, members)  # type: ignore[return-value]


class Role(StrEnum):
    """2.3.0 drops HUB: a hub names itself in `Credentials.hub_party_id` and lists its clients as roles."""

    CPO = "CPO"
    EMSP = "EMSP"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class TaxIncluded(StrEnum):
    YES = "YES"
    NO = "NO"
    NOT_APPLICABLE = "N/A"


class TaxAmount(OcpiModel):
    name: String255
    account_number: String255 | None = None
    percentage: Number | None = None
    amount: Number


class Price(OcpiModel):
    """A cost (Session, CDR): the amount before taxes and each tax on it.

    `excl_vat` / `incl_vat` read it in our terms (the record columns, billing's reconciliation): before_taxes, and
    before_taxes plus the sum of the taxes. Without a `taxes` list the amount incl. taxes is unknown (None), as a
    2.2.1 Price without incl_vat; an empty list says no tax applies.
    """

    before_taxes: Number
    taxes: list[TaxAmount] | None = None

    @property
    def excl_vat(self) -> Decimal:
        return self.before_taxes

    @property
    def incl_vat(self) -> Decimal | None:
        if self.taxes is None:
            return None
        return self.before_taxes + sum((tax.amount for tax in self.taxes), Decimal(0))

    @model_validator(mode="after")
    def check_incl_fits(self) -> Price:
        """The amount incl. taxes is stored too (a DECIMAL(12, 4) column): it must fit as every number does."""
        incl = self.incl_vat
        if incl is not None and abs(incl) > NUMBER_LIMIT:
            raise PydanticCustomError(
                "ocpi_number", "before_taxes plus taxes beyond ±{limit}", {"limit": str(NUMBER_LIMIT)}
            )
        return self


class PriceLimit(OcpiModel):
    """A tariff's min_price / max_price: both bounds apply, before and after taxes."""

    before_taxes: Number
    after_taxes: Number | None = None

    @property
    def excl_vat(self) -> Decimal:
        return self.before_taxes

    @property
    def incl_vat(self) -> Decimal | None:
        return self.after_taxes
