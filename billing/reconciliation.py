"""The rules that compare a CPO's CDR with our price of it. Plain functions: no writes, no queries.

A money difference counts when it exceeds BILLING_TOLERANCE_AMOUNT plus BILLING_TOLERANCE_PERCENT of the
larger of the two values (a cent of rounding is not worth a person's time; a percent of a big session may
not be either). Volumes (the CDR's totals against what its periods carry) count beyond VOLUME_TOLERANCE
(0.001 kWh or hour): a CDR whose totals contradict its own periods was not computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TypedDict

from django.conf import settings

from billing.models import CdrPrice
from billing.tariffs import Cdr as CdrRecord
from billing.tariffs.engine import VOLUME_TOLERANCE, period_volumes
from roaming.models import Cdr

HUNDRED = Decimal(100)

#: (dimension, the CPO's field on roaming.Cdr, ours on CdrPrice); excl. VAT, and the total incl. VAT too. A 2.3.0
#: CDR's Price reads as excl. = before_taxes, incl. = before_taxes + the sum of its taxes (the mapping's columns).
COST_DIMENSIONS = (
    ("total", "total_cost_excl_vat", "total_excl_vat"),
    ("total incl. VAT", "total_cost_incl_vat", "total_incl_vat"),
    ("energy", "total_energy_cost_excl_vat", "energy_excl_vat"),
    ("time", "total_time_cost_excl_vat", "time_excl_vat"),
    ("parking", "total_parking_cost_excl_vat", "parking_excl_vat"),
    ("fixed", "total_fixed_cost_excl_vat", "fixed_excl_vat"),
    ("reservation", "total_reservation_cost_excl_vat", "reservation_excl_vat"),
)
VOLUME_DIMENSIONS = ("total_energy", "total_time", "total_parking_time")


class Difference(TypedDict):
    dimension: str
    cpo: str
    ours: str
    difference: str  # CPO minus ours


@dataclass(frozen=True)
class Tolerance:
    amount: Decimal
    percent: Decimal

    @classmethod
    def from_settings(cls) -> Tolerance:
        return cls(Decimal(settings.BILLING_TOLERANCE_AMOUNT), Decimal(settings.BILLING_TOLERANCE_PERCENT))

    def exceeded(self, cpo: Decimal, ours: Decimal) -> bool:
        return abs(cpo - ours) > self.amount + self.percent / HUNDRED * max(abs(cpo), abs(ours))


def _difference(dimension: str, cpo: Decimal, ours: Decimal) -> Difference:
    return {
        "dimension": dimension,
        "cpo": str(cpo),
        "ours": str(ours),
        "difference": str(cpo - ours),
    }


def cost_differences(cdr: Cdr, price: CdrPrice, tolerance: Tolerance) -> list[Difference]:
    """Every cost the CPO gave that differs from ours beyond the tolerance. A cost the CPO left out is not
    compared (OCPI makes the per-dimension costs optional); the total always is."""
    found = []
    for dimension, cpo_field, our_field in COST_DIMENSIONS:
        cpo, ours = getattr(cdr, cpo_field), getattr(price, our_field)
        if cpo is None or ours is None:
            continue
        if tolerance.exceeded(Decimal(cpo), Decimal(ours)):
            found.append(_difference(dimension, Decimal(cpo), Decimal(ours)))
    return found


def volume_differences(record: CdrRecord) -> list[Difference]:
    """The CDR's own volume totals against the sum of its charging periods."""
    carried = period_volumes(record)
    found = []
    for dimension in VOLUME_DIMENSIONS:
        given = getattr(record, dimension)
        if given is not None and abs(given - carried[dimension]) > VOLUME_TOLERANCE:
            found.append(_difference(dimension, given, carried[dimension]))
    return found


def credit_differences(credit: Cdr, original: Cdr, tolerance: Tolerance) -> list[Difference]:
    """A credit CDR must cancel what the CPO billed for the original: its total is the original's, negated
    (OCPI mod_cdrs). Compared with the CPO's original total, not ours: the credit takes back what was billed."""
    expected = -Decimal(original.total_cost_excl_vat)
    given = Decimal(credit.total_cost_excl_vat)
    if tolerance.exceeded(given, expected):
        return [_difference("credit", given, expected)]
    return []


def amount_at_stake(cdr: Cdr, price: CdrPrice) -> Decimal:
    """What we would overpay: the CPO's total minus ours, excl. VAT; incl. taxes when our price has no excl.
    figure (a 2.3.0 tariff whose prices include taxes at a rate it does not give) and the CPO gave its taxes."""
    if price.total_excl_vat is None and price.total_incl_vat is not None and cdr.total_cost_incl_vat is not None:
        return Decimal(cdr.total_cost_incl_vat) - Decimal(price.total_incl_vat)
    return Decimal(cdr.total_cost_excl_vat) - Decimal(price.total_excl_vat or 0)
