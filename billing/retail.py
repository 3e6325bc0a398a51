"""The driver's price of a session under a retail plan: plain functions, no database, Decimal only.

The same function prices the charge written when the CDR is priced (`billing.charges`) and the estimate shown
before charging (`billing.estimates`), so what a driver is told is what they pay under the same conditions.

A plan prices a session either from the CPO's cost (COST_PLUS: our engine's price of the CDR excl. VAT, plus
a percentage and/or an amount per kWh) or from our own price rules (OWN_PRICES: per kWh and per hour of
charging, the most specific rule that matches the session). Either way a session fee and an idle fee (per
minute of parking beyond the plan's grace) may be added. Amounts are excl. VAT, in full precision per line;
the total is kept to the 4 places a charge stores, and rounded to cents only on the invoice line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ZERO = Decimal(0)
HUNDRED = Decimal(100)
MINUTES_PER_HOUR = Decimal(60)
#: The precision a SessionCharge stores its amount in (numeric(12, 4)).
STORED = Decimal("0.0001")
CENT = Decimal("0.01")

COST_PLUS = "cost_plus"
OWN_PRICES = "own_prices"

AC, DC, HPC = "AC", "DC", "HPC"
#: Above this (in W) a DC charger is high-power (AFIR's and drivers' "HPC").
HPC_ABOVE_W = 150_000


class RetailError(ValueError):
    """The session cannot be priced under this plan (e.g. its cost is in another currency)."""


@dataclass(frozen=True, slots=True)
class PriceRule:
    """One own price (OWN_PRICES): empty matchers match anything."""

    price_per_kwh: Decimal
    price_per_hour: Decimal
    partner_id: int | None = None
    country: str = ""
    power_class: str = ""

    @property
    def weight(self) -> int:
        """Specificity: a partner weighs more than a country, a country more than a power class (so a partner
        rule beats a country + power class rule)."""
        return (4 if self.partner_id is not None else 0) + (2 if self.country else 0) + (1 if self.power_class else 0)

    def matches(self, session: SessionFacts) -> bool:
        return (
            (self.partner_id is None or self.partner_id == session.partner_id)
            and (not self.country or self.country == session.country)
            and (not self.power_class or self.power_class == session.power_class)
        )


@dataclass(frozen=True, slots=True)
class PlanTerms:
    """A RetailPlan's terms, amounts excl. VAT in `currency`."""

    currency: str
    basis: str = COST_PLUS
    markup_percent: Decimal = ZERO
    markup_per_kwh: Decimal = ZERO
    session_fee: Decimal = ZERO
    idle_fee_per_minute: Decimal = ZERO
    idle_grace_minutes: int = 0
    rules: tuple[PriceRule, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What of a session a plan looks at. Hours are decimal hours; country is the location's (alpha-3)."""

    energy_kwh: Decimal
    charging_hours: Decimal
    parking_hours: Decimal = ZERO
    partner_id: int | None = None
    country: str = ""
    power_class: str = ""


@dataclass(frozen=True, slots=True)
class RetailLine:
    """A line of the breakdown; `amount` = quantity x unit_price, exact."""

    kind: str  # cost, markup, per_kwh, energy, time, session_fee, idle_fee
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    def as_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "description": self.description,
            "quantity": str(self.quantity),
            "unit_price": str(self.unit_price),
            "amount": str(self.amount),
        }


@dataclass(frozen=True, slots=True)
class RetailPrice:
    """The driver's price excl. VAT: the lines, and their sum at the precision a charge stores."""

    currency: str
    lines: tuple[RetailLine, ...]
    rule: PriceRule | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def excl_vat(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO).quantize(STORED, ROUND_HALF_UP)

    def lines_json(self) -> list[dict[str, str]]:
        return [line.as_json() for line in self.lines]


def power_class(power_type: str, max_power_w: int | None) -> str:
    """AC, DC (up to 150 kW) or HPC (DC above 150 kW) from OCPI's power_type and the connector's max power in
    W; an unknown DC power counts as DC."""
    if not power_type.upper().startswith("DC"):
        return AC
    return HPC if max_power_w is not None and max_power_w > HPC_ABOVE_W else DC


def best_rule(rules: Sequence[PriceRule], session: SessionFacts) -> PriceRule | None:
    """The most specific matching rule; of equally specific ones, the first given."""
    best: PriceRule | None = None
    for rule in rules:
        if rule.matches(session) and (best is None or rule.weight > best.weight):
            best = rule
    return best


def _line(kind: str, description: str, quantity: Decimal, unit_price: Decimal) -> RetailLine:
    return RetailLine(kind, description, quantity, unit_price, quantity * unit_price)


def retail_price(
    terms: PlanTerms, session: SessionFacts, *, cost_excl_vat: Decimal | None = None, cost_currency: str = ""
) -> RetailPrice:
    """The driver's price of `session` under `terms`, excl. VAT, with its breakdown.

    `cost_excl_vat` is the CPO's price of the session by our engine (needed for COST_PLUS, and for an
    OWN_PRICES plan that has no rule for the session: then it is priced as cost plus the plan's markup,
    rather than for free).
    """
    lines: list[RetailLine] = []
    notes: list[str] = []
    rule = best_rule(terms.rules, session) if terms.basis == OWN_PRICES else None
    if rule is not None:
        if rule.price_per_kwh:
            lines.append(_line("energy", "energy (kWh)", session.energy_kwh, rule.price_per_kwh))
        if rule.price_per_hour:
            lines.append(_line("time", "charging time (h)", session.charging_hours, rule.price_per_hour))
    else:
        if terms.basis == OWN_PRICES:
            notes.append("no own price rule matches the session: priced as the CPO's price plus the markup")
        if cost_excl_vat is None:
            raise RetailError("the CPO's price of the session is needed")
        if cost_currency and cost_currency != terms.currency:
            raise RetailError(f"the CPO's price is in {cost_currency}, the plan in {terms.currency}")
        lines.append(RetailLine("cost", "charging (CPO price)", Decimal(1), cost_excl_vat, cost_excl_vat))
        if terms.markup_percent:
            description = f"markup {terms.markup_percent.normalize():f} %"
            lines.append(_line("markup", description, cost_excl_vat, terms.markup_percent / HUNDRED))
        if terms.markup_per_kwh:
            lines.append(_line("per_kwh", "markup per kWh", session.energy_kwh, terms.markup_per_kwh))
    if terms.session_fee:
        lines.append(_line("session_fee", "session fee", Decimal(1), terms.session_fee))
    if terms.idle_fee_per_minute:
        idle = session.parking_hours * MINUTES_PER_HOUR - terms.idle_grace_minutes
        if idle > 0:
            description = f"idle fee (minutes beyond {terms.idle_grace_minutes} min)"
            lines.append(_line("idle_fee", description, idle, terms.idle_fee_per_minute))
    return RetailPrice(currency=terms.currency, lines=tuple(lines), rule=rule, notes=tuple(notes))


def vat_rate(country: str, rates: Mapping[str, Any]) -> Decimal:
    """The VAT rate (percent) of a country (alpha-2) from the configured rates (BILLING_VAT_RATES)."""
    try:
        return Decimal(str(rates[country.upper()]))
    except KeyError:
        raise RetailError(f"no VAT rate configured for country {country!r} (BILLING_VAT_RATES)") from None


@dataclass(frozen=True, slots=True)
class Totals:
    """A session on its own invoice line: excl. VAT rounded to cents (half up), VAT on it, and the sum."""

    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal


def line_totals(amount_excl_vat: Decimal, rate: Decimal) -> Totals:
    """How an invoice turns a charge into money: the line rounded to cents, half up, then VAT on that (the
    rounding rule of the invoices: per line, then VAT per rate on the sum of the lines)."""
    excl = amount_excl_vat.quantize(CENT, ROUND_HALF_UP)
    vat = (excl * rate / HUNDRED).quantize(CENT, ROUND_HALF_UP)
    return Totals(excl_vat=excl, vat=vat, incl_vat=excl + vat)
