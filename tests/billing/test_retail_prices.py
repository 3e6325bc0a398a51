"""The retail price of a session under a plan: pure functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.retail import (
    OWN_PRICES,
    PlanTerms,
    PriceRule,
    RetailError,
    SessionFacts,
    line_totals,
    power_class,
    retail_price,
    vat_rate,
)

D = Decimal
SESSION = SessionFacts(
    energy_kwh=D("20"), charging_hours=D("1.5"), parking_hours=D("0.5"), partner_id=7, country="NLD", power_class="AC"
)


def kinds(price) -> dict[str, Decimal]:
    return {line.kind: line.amount for line in price.lines}


def test_cost_plus_adds_percent_and_per_kwh_markup_in_full_precision() -> None:
    terms = PlanTerms(currency="EUR", markup_percent=D("12.5"), markup_per_kwh=D("0.0333"))
    price = retail_price(terms, SESSION, cost_excl_vat=D("7.77"))
    assert kinds(price) == {"cost": D("7.77"), "markup": D("0.971250"), "per_kwh": D("0.6660")}
    assert price.excl_vat == D("9.4073")  # 9.40725, kept to the 4 places a charge stores, half up


def test_cost_plus_needs_the_cost_in_the_plans_currency() -> None:
    terms = PlanTerms(currency="EUR", markup_percent=D("10"))
    with pytest.raises(RetailError, match="needed"):
        retail_price(terms, SESSION)
    with pytest.raises(RetailError, match="SEK"):
        retail_price(terms, SESSION, cost_excl_vat=D("5"), cost_currency="SEK")


def test_session_fee_and_idle_fee_beyond_the_grace() -> None:
    terms = PlanTerms(currency="EUR", session_fee=D("0.35"), idle_fee_per_minute=D("0.10"), idle_grace_minutes=20)
    price = retail_price(terms, SESSION, cost_excl_vat=D("5.00"))  # 30 minutes parked: 10 beyond the grace
    assert kinds(price) == {"cost": D("5.00"), "session_fee": D("0.35"), "idle_fee": D("1.00")}
    idle = price.lines[-1]
    assert (idle.quantity, idle.unit_price) == (D("10.0"), D("0.10"))


def test_no_idle_fee_within_the_grace() -> None:
    terms = PlanTerms(currency="EUR", idle_fee_per_minute=D("0.10"), idle_grace_minutes=30)
    assert "idle_fee" not in kinds(retail_price(terms, SESSION, cost_excl_vat=D("5")))


RULES = (
    PriceRule(price_per_kwh=D("0.50"), price_per_hour=D("0")),  # anything
    PriceRule(price_per_kwh=D("0.45"), price_per_hour=D("0"), power_class="AC"),
    PriceRule(price_per_kwh=D("0.40"), price_per_hour=D("1.00"), country="NLD"),
    PriceRule(price_per_kwh=D("0.38"), price_per_hour=D("0"), country="NLD", power_class="AC"),
    PriceRule(price_per_kwh=D("0.30"), price_per_hour=D("0"), partner_id=7),
    PriceRule(price_per_kwh=D("0.20"), price_per_hour=D("0"), partner_id=8, country="NLD", power_class="AC"),
)


@pytest.mark.parametrize(
    ("session", "per_kwh"),
    [
        (SESSION, D("0.30")),  # the partner's rule beats country + power class
        (SessionFacts(energy_kwh=D("20"), charging_hours=D("1"), country="NLD", power_class="AC"), D("0.38")),
        (SessionFacts(energy_kwh=D("20"), charging_hours=D("1"), country="NLD", power_class="DC"), D("0.40")),
        (SessionFacts(energy_kwh=D("20"), charging_hours=D("1"), country="DEU", power_class="AC"), D("0.45")),
        (SessionFacts(energy_kwh=D("20"), charging_hours=D("1"), country="DEU", power_class="HPC"), D("0.50")),
    ],
)
def test_the_most_specific_own_price_rule_wins(session: SessionFacts, per_kwh: Decimal) -> None:
    price = retail_price(PlanTerms(currency="EUR", basis=OWN_PRICES, rules=RULES), session, cost_excl_vat=D("99"))
    assert price.rule is not None
    assert price.rule.price_per_kwh == per_kwh
    assert kinds(price)["energy"] == D("20") * per_kwh
    assert "cost" not in kinds(price)


def test_own_prices_per_kwh_and_per_hour_of_charging_plus_fees() -> None:
    terms = PlanTerms(
        currency="EUR",
        basis=OWN_PRICES,
        session_fee=D("0.25"),
        idle_fee_per_minute=D("0.05"),
        idle_grace_minutes=0,
        rules=(PriceRule(price_per_kwh=D("0.39"), price_per_hour=D("0.60"), country="NLD"),),
    )
    price = retail_price(terms, SESSION)  # no cost needed
    assert kinds(price) == {"energy": D("7.80"), "time": D("0.900"), "session_fee": D("0.25"), "idle_fee": D("1.500")}
    assert price.excl_vat == D("10.45")


def test_own_prices_without_a_matching_rule_fall_back_to_cost_plus_not_to_free() -> None:
    terms = PlanTerms(
        currency="EUR",
        basis=OWN_PRICES,
        markup_percent=D("10"),
        rules=(PriceRule(price_per_kwh=D("0.39"), price_per_hour=D("0"), country="DEU"),),
    )
    price = retail_price(terms, SESSION, cost_excl_vat=D("8.00"))
    assert price.excl_vat == D("8.80")
    assert price.rule is None
    assert price.notes


@pytest.mark.parametrize(
    ("power_type", "watts", "expected"),
    [
        ("AC_1_PHASE", None, "AC"),
        ("AC_3_PHASE", 22_000, "AC"),
        ("DC", 50_000, "DC"),
        ("DC", 150_000, "DC"),
        ("DC", 150_001, "HPC"),
        ("DC", None, "DC"),
    ],
)
def test_power_class(power_type: str, watts: int | None, expected: str) -> None:
    assert power_class(power_type, watts) == expected


def test_vat_per_country_and_the_invoice_lines_rounding() -> None:
    rates = {"NL": "21", "DE": "19", "FI": "25.5"}
    assert vat_rate("nl", rates) == D("21")
    assert vat_rate("FI", rates) == D("25.5")
    with pytest.raises(RetailError, match="XX"):
        vat_rate("XX", rates)
    totals = line_totals(D("9.4073"), D("25.5"))  # 9.41; VAT 2.39955 -> 2.40
    assert (totals.excl_vat, totals.vat, totals.incl_vat) == (D("9.41"), D("2.40"), D("11.81"))
    totals = line_totals(D("-9.4073"), D("19"))  # a credit rounds symmetrically
    assert (totals.excl_vat, totals.vat, totals.incl_vat) == (D("-9.41"), D("-1.79"), D("-11.20"))
