"""A charge per priced CDR of a driver: the plan in force at session start, credits, idempotency, the balance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.charges import PlanError, charges_create, plan_in_force, plan_subscribe
from billing.models import CdrPrice, PlanPriceRule, PlanSubscription, RetailPlan, SessionCharge
from billing.services import cdrs_price
from drivers.models import Driver
from roaming.models import Cdr, Connector, Evse, Location, Partner

from .factories import a_cdr, a_driver, a_partner, a_plan, an_invoice

pytestmark = pytest.mark.django_db

D = Decimal
OCT = datetime(2026, 10, 1, tzinfo=UTC)


def priced(cdr: Cdr, total: str = "9.00", status: str = CdrPrice.Status.PRICED) -> Cdr:
    """Our engine's price of the CDR, as pricing would have stored it."""
    CdrPrice.objects.update_or_create(
        cdr=cdr, defaults={"status": status, "currency": cdr.currency, "total_excl_vat": D(total)}
    )
    return cdr


@pytest.fixture
def payg() -> RetailPlan:
    return a_plan("PAYG", is_default=True, markup_percent=D("20"), session_fee=D("0.30"))


@pytest.fixture
def plus() -> RetailPlan:
    plan = a_plan("Plus", basis=RetailPlan.Basis.OWN_PRICES, monthly_fee=D("4.99"), idle_fee_per_minute=D("0.10"),
                  idle_grace_minutes=30)  # fmt: skip
    PlanPriceRule.objects.create(plan=plan, price_per_kwh=D("0.40"))
    PlanPriceRule.objects.create(plan=plan, country="NLD", power_class="AC", price_per_kwh=D("0.35"))
    return plan


def test_a_driver_without_a_plan_is_charged_the_default_plan(payg: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    cdr = priced(a_cdr(partner, driver, start=OCT, hours="2", energy="20", total_cost="9.00"), "9.00")

    assert charges_create(cdr_ids=[cdr.pk]) == 1

    charge = SessionCharge.objects.get(cdr=cdr)
    assert (charge.plan, charge.driver, charge.currency) == (payg, driver, "EUR")
    assert charge.amount_excl_vat == D("11.1000")  # 9.00 + 20 % + 0.30
    assert [line["kind"] for line in charge.lines] == ["cost", "markup", "session_fee"]
    assert charge.vat_rate == D("21")
    assert (charge.session_start, charge.energy_kwh, charge.charging_hours) == (OCT, D("20"), D("2"))
    assert (charge.country, charge.power_class) == ("NLD", "AC")
    assert charge.location == "Central Garage, Stationsplein 1, Amsterdam"


def test_vat_is_that_of_the_drivers_country(payg: RetailPlan) -> None:
    partner = a_partner()
    german, finn = a_driver(country="DE"), a_driver("Aino Virtanen", country="FI")
    cdrs = [priced(a_cdr(partner, german)), priced(a_cdr(partner, finn))]

    charges_create(cdr_ids=[c.pk for c in cdrs])

    assert SessionCharge.objects.get(driver=german).vat_rate == D("19")
    assert SessionCharge.objects.get(driver=finn).vat_rate == D("25.5")


def test_the_plan_in_force_at_session_start_prices_it_and_a_change_never_reprices(
    payg: RetailPlan, plus: RetailPlan
) -> None:
    driver, partner = a_driver(), a_partner()
    before = priced(a_cdr(partner, driver, start=OCT + timedelta(days=3), energy="20"), "9.00")
    charges_create(cdr_ids=[before.pk])
    # Mid-month the driver moves to Plus; a session that started before (its CDR late) is still PAYG.
    plan_subscribe(driver=driver, plan=plus, at=OCT + timedelta(days=15))
    late = priced(a_cdr(partner, driver, start=OCT + timedelta(days=14, hours=23), energy="10"), "4.00")
    after = priced(a_cdr(partner, driver, start=OCT + timedelta(days=16), energy="10", hours="1.5",
                         total_parking_time=D("1")), "4.00")  # fmt: skip

    charges_create(cdr_ids=[late.pk, after.pk, before.pk])

    charges = {c.cdr_id: c for c in SessionCharge.objects.all()}
    assert charges[before.pk].plan == payg
    assert charges[before.pk].amount_excl_vat == D("11.1000")
    assert charges[late.pk].plan == payg
    assert charges[late.pk].amount_excl_vat == D("5.1000")
    # Plus: 10 kWh at 0.35 (NLD, AC) + 30 parked minutes beyond the 30 of grace at 0.10.
    assert charges[after.pk].plan == plus
    assert charges[after.pk].amount_excl_vat == D("6.5000")
    assert charges[after.pk].parking_hours == D("1")
    assert charges[after.pk].charging_hours == D("0.5")


def test_plan_subscribe_closes_the_current_spell(payg: RetailPlan, plus: RetailPlan) -> None:
    driver = a_driver()
    first = plan_subscribe(driver=driver, plan=plus, at=OCT)
    assert plan_subscribe(driver=driver, plan=plus, at=OCT + timedelta(days=1)) == first  # already on it
    second = plan_subscribe(driver=driver, plan=payg, at=OCT + timedelta(days=10))

    first.refresh_from_db()
    assert first.valid_until == second.valid_from == OCT + timedelta(days=10)
    assert PlanSubscription.objects.filter(driver=driver, valid_until__isnull=True).get() == second
    assert plan_in_force(driver=driver, at=OCT + timedelta(days=5)) == plus
    assert plan_in_force(driver=driver, at=OCT + timedelta(days=10)) == payg
    assert plan_in_force(driver=driver, at=OCT - timedelta(days=1)) == payg  # before any spell: the default
    with pytest.raises(PlanError):
        plan_subscribe(driver=driver, plan=plus, at=OCT + timedelta(days=9))


def test_charging_twice_writes_nothing_new(payg: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    cdr = priced(a_cdr(partner, driver))
    assert charges_create(cdr_ids=[cdr.pk]) == 1
    payg.markup_percent = D("50")
    payg.save()

    assert charges_create(cdr_ids=[cdr.pk]) == 0

    assert SessionCharge.objects.get().amount_excl_vat == D("11.1000")  # written once: not repriced


def test_only_priced_cdrs_of_drivers_are_charged(payg: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    unpriced = a_cdr(partner, driver)
    priced(unpriced, status=CdrPrice.Status.UNPRICED)
    unknown = priced(a_cdr(partner, None))

    assert charges_create(cdr_ids=[unpriced.pk, unknown.pk]) == 0
    assert not SessionCharge.objects.exists()


def test_a_credit_cdr_gives_a_negative_charge_that_cancels_the_original(payg: RetailPlan, plus: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    original = priced(a_cdr(partner, driver, start=OCT), "9.00", status=CdrPrice.Status.CREDITED)
    plan_subscribe(driver=driver, plan=plus, at=OCT + timedelta(days=1))  # the credit is the original's plan
    credit = priced(a_cdr(partner, driver, start=OCT, credit=True, credit_for=original, total_cost="-9.00"), "-9.00")

    assert charges_create(cdr_ids=[credit.pk]) == 2  # the original comes along

    charge, negative = SessionCharge.objects.get(cdr=original), SessionCharge.objects.get(cdr=credit)
    assert negative.credits == charge
    assert (negative.plan, negative.vat_rate) == (payg, charge.vat_rate)
    assert negative.amount_excl_vat == -charge.amount_excl_vat == D("-11.1000")
    assert [D(line["amount"]) for line in negative.lines] == [-D(line["amount"]) for line in charge.lines]
    driver.refresh_from_db()
    assert driver.uninvoiced == D("0.00")


def test_a_credit_after_the_invoice_is_charged_for_the_next_one(payg: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    original = priced(a_cdr(partner, driver, start=OCT))
    charges_create(cdr_ids=[original.pk])
    SessionCharge.objects.filter(cdr=original).update(invoice=an_invoice(driver, "13.43"))
    credit = priced(a_cdr(partner, driver, credit=True, credit_for=original), "-9.00")

    charges_create(cdr_ids=[credit.pk])

    negative = SessionCharge.objects.get(cdr=credit)
    assert negative.invoice is None
    assert negative.amount_excl_vat == D("-11.1000")
    driver.refresh_from_db()
    assert driver.uninvoiced == D("-13.43")  # -11.10 x 1.21


def test_the_balance_counts_new_charges_in_the_same_transaction(payg: RetailPlan) -> None:
    driver, other, partner = a_driver(), a_driver("Bob Jansen"), a_partner()
    cdrs = [
        priced(a_cdr(partner, driver), "9.00"),
        priced(a_cdr(partner, driver), "1.00"),
        priced(a_cdr(partner, other), "2"),
    ]

    charges_create(cdr_ids=[c.pk for c in cdrs])

    driver.refresh_from_db()
    other.refresh_from_db()
    assert driver.uninvoiced == D("15.25")  # (11.10 + 1.50) x 1.21 = 15.246
    assert other.uninvoiced == D("3.27")  # (2.40 + 0.30) x 1.21


def test_power_class_of_a_dc_session_comes_from_our_connector(payg: RetailPlan) -> None:
    driver, partner = a_driver(), a_partner()
    rules = RetailPlan.objects.create(name="Own", basis=RetailPlan.Basis.OWN_PRICES)
    PlanPriceRule.objects.create(plan=rules, power_class="DC", price_per_kwh=D("0.50"))
    PlanPriceRule.objects.create(plan=rules, power_class="HPC", price_per_kwh=D("0.70"))
    plan_subscribe(driver=driver, plan=rules, at=OCT)
    location = _location(partner, max_power=300_000)
    cdr_location = {"id": "LOC1", "name": "Snellaad", "evse_uid": "E1", "connector_id": "1",
                    "connector_power_type": "DC", "country": "NLD"}  # fmt: skip
    hpc = priced(a_cdr(partner, driver, start=OCT + timedelta(days=1), energy="10", location=location,
                       cdr_location=cdr_location))  # fmt: skip
    unknown = priced(a_cdr(partner, driver, start=OCT + timedelta(days=1), energy="10", cdr_location=cdr_location))

    charges_create(cdr_ids=[hpc.pk, unknown.pk])

    assert SessionCharge.objects.get(cdr=hpc).power_class == "HPC"
    assert SessionCharge.objects.get(cdr=hpc).amount_excl_vat == D("7.0000")
    assert SessionCharge.objects.get(cdr=unknown).power_class == "DC"  # location not held: power unknown


def _location(partner: Partner, *, max_power: int) -> Location:
    now = datetime(2026, 9, 1, tzinfo=UTC)
    location = Location.objects.create(partner=partner, country_code="NL", party_id="CPO", ocpi_id="LOC1",
                                       address="Snelweg 1", city="Utrecht", country="NLD", latitude=D("52"),
                                       longitude=D("5"), last_updated=now)  # fmt: skip
    evse = Evse.objects.create(location=location, uid="E1", last_updated=now)
    Connector.objects.create(
        evse=evse,
        ocpi_id="1",
        standard="IEC_62196_T2_COMBO",
        format="CABLE",
        power_type="DC",
        max_voltage=920,
        max_amperage=400,
        max_electric_power=max_power,
        last_updated=now,
    )
    return location


def test_pricing_a_batch_charges_it(payg: RetailPlan) -> None:
    """The hook: `cdrs_price` writes the charges of what it priced (a CDR we cannot price gets none)."""
    driver, partner = a_driver(), a_partner()
    cdr = a_cdr(partner, driver)  # no tariff: unpriced

    result = cdrs_price(cdr_ids=[cdr.pk])

    assert (result.unpriced, result.charged) == (1, 0)
    assert not SessionCharge.objects.exists()
    assert Driver.objects.get(pk=driver.pk).uninvoiced == D("0")


def test_the_demo_plans_are_created_once() -> None:
    from django.core.management import call_command

    call_command("billing_demo")
    call_command("billing_demo")

    assert RetailPlan.objects.get(is_default=True).name == "Pay as you go"
    assert RetailPlan.objects.get(name="Plus").price_rules.count() == 4
