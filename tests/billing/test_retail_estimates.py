"""The price before charging equals the charge of that same session once its CDR arrives and is priced."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from billing.charges import plan_subscribe
from billing.estimates import EstimateError, price_estimate
from billing.invoicing import invoice_run
from billing.models import Invoice, PlanPriceRule, RetailPlan, SessionCharge
from billing.retail import line_totals
from drivers.models import Token
from roaming.models import Connector
from tests.billing.conftest import cdr_body, location_body, post_cdr
from tests.roaming.conftest import OcpiTestClient

D = Decimal
START = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)
FMT = "%Y-%m-%dT%H:%M:%SZ"


def _cost_plus() -> RetailPlan:
    return RetailPlan.objects.create(
        name="Flex",
        markup_percent=D("15"),
        markup_per_kwh=D("0.02"),
        session_fee=D("0.35"),
        idle_fee_per_minute=D("0.10"),
        idle_grace_minutes=15,
    )


def _own_prices() -> RetailPlan:
    plan = RetailPlan.objects.create(
        name="Plus",
        basis=RetailPlan.Basis.OWN_PRICES,
        session_fee=D("0.50"),
        idle_fee_per_minute=D("0.05"),
        idle_grace_minutes=10,
    )
    PlanPriceRule.objects.create(plan=plan, price_per_kwh=D("0.59"))
    PlanPriceRule.objects.create(plan=plan, country="BEL", power_class="AC", price_per_kwh=D("0.45"),
                                 price_per_hour=D("1.00"))  # fmt: skip
    return plan


@pytest.fixture
def connector(ocpi: OcpiTestClient, held_tariff: dict[str, Any]) -> Connector:
    """Gent Zuid's EVSE 3256 connector 1 (AC), priced by the held tariff T12 (0.25/kWh, 2.00/h)."""
    body = copy.deepcopy(location_body())
    body["evses"][0]["connectors"][0]["tariff_ids"] = ["T12"]
    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", body).status_code == 1000
    return Connector.objects.select_related("evse__location").get(evse__uid="3256", ocpi_id="1")


def _session_cdr(kwh: str, charging: timedelta, parking: timedelta) -> dict[str, Any]:
    """The CDR the CPO sends for that session: a charging period, then a parking one."""
    hours, parked = D(charging.total_seconds()) / 3600, D(parking.total_seconds()) / 3600
    end = START + charging + parking
    body = cdr_body(start=START.strftime(FMT), end=end.strftime(FMT), kwh=kwh, hours=str(hours),
                    total=("6.13", "6.74"))  # fmt: skip
    body["charging_periods"].append(
        {
            "start_date_time": (START + charging).strftime(FMT),
            "dimensions": [{"type": "PARKING_TIME", "volume": float(parked)}],
            "tariff_id": "T12",
        }
    )
    body.update(total_time=float(hours + parked), total_parking_time=float(parked))
    return body


@pytest.mark.parametrize("make_plan", [_cost_plus, _own_prices], ids=["cost-plus", "own-prices"])
def test_the_estimate_is_what_the_driver_is_charged(
    ocpi: OcpiTestClient, connector: Connector, our_token: Token, make_plan: Any
) -> None:
    driver = our_token.driver
    plan = make_plan()
    plan_subscribe(driver=driver, plan=plan, at=START - timedelta(days=30))
    charging, parking = timedelta(minutes=90), timedelta(minutes=45)

    estimate = price_estimate(
        connector=connector, driver=driver, energy_kwh=D("12.5"), duration=charging, parking=parking, at=START
    )
    post_cdr(ocpi, _session_cdr("12.5", charging, parking))

    charge = SessionCharge.objects.get(cdr__ocpi_id="CDR-1")
    assert charge.plan == estimate.plan == plan
    assert charge.amount_excl_vat == estimate.amount_excl_vat
    assert charge.vat_rate == estimate.vat_rate == D("21")  # the driver's country (NL), not the charger's
    assert line_totals(charge.amount_excl_vat, charge.vat_rate) == estimate.totals
    assert charge.lines == estimate.retail.lines_json()
    kinds = {line["kind"] for line in charge.lines}
    assert {"session_fee", "idle_fee"} <= kinds
    # And the figures themselves: T12 prices 12.5 kWh and 1.5 h at 6.125 -> 6.13 excl. VAT.
    if plan.basis == RetailPlan.Basis.COST_PLUS:
        # 6.13 + 15 % + 12.5 x 0.02 + 0.35 + (45 - 15) x 0.10 = 10.6495
        assert estimate.amount_excl_vat == D("10.6495")
        assert (estimate.totals.excl_vat, estimate.totals.vat, estimate.incl_vat) == (D("10.65"), D("2.24"), D("12.89"))
    else:
        # 12.5 x 0.45 + 1.5 x 1.00 + 0.50 + (45 - 10) x 0.05 = 9.375
        assert estimate.amount_excl_vat == D("9.3750")
        assert estimate.incl_vat == D("9.38") + D("1.97")


def test_without_energy_or_duration_the_power_class_defaults_apply(connector: Connector, our_token: Token) -> None:
    plan = _own_prices()
    plan_subscribe(driver=our_token.driver, plan=plan, at=START - timedelta(days=1))

    estimate = price_estimate(connector=connector, driver=our_token.driver, at=START)

    assert (estimate.power_class, estimate.facts.energy_kwh, estimate.facts.charging_hours) == ("AC", 11, 2)
    assert estimate.amount_excl_vat == D("11") * D("0.45") + 2 + D("0.50")


def test_no_estimate_without_a_plan_or_a_tariff(connector: Connector, our_token: Token) -> None:
    with pytest.raises(EstimateError, match="no plan"):
        price_estimate(connector=connector, driver=our_token.driver, at=START)
    _cost_plus()
    RetailPlan.objects.filter(name="Flex").update(is_default=True)
    connector.tariff_ids = ["NOT-HELD"]
    with pytest.raises(EstimateError, match="no tariff"):
        price_estimate(connector=connector, driver=our_token.driver, at=START)


def test_staff_try_the_price_in_the_admin(client: Any, staff: Any, connector: Connector, our_token: Token) -> None:
    plan = _own_prices()
    plan_subscribe(driver=our_token.driver, plan=plan, at=START - timedelta(days=1))
    client.force_login(staff)
    form = {"connector_id": connector.pk, "driver_id": our_token.driver.pk, "energy_kwh": "10", "minutes": "60"}

    page = client.post("/admin/billing/retailplan/try-price/", form)

    assert page.status_code == 200
    estimate = page.context["estimate"]
    assert estimate.amount_excl_vat == D("10") * D("0.45") + 1 + D("0.50")
    assert str(estimate.totals.incl_vat) in page.content.decode()
    assert client.get("/admin/billing/sessioncharge/").status_code == 200
    assert client.get("/admin/billing/plansubscription/").status_code == 200
    assert client.get(f"/admin/billing/retailplan/{plan.pk}/change/").status_code == 200


def test_the_estimate_is_the_invoice_line_and_the_invoice_pdf_says_so(
    ocpi: OcpiTestClient,
    connector: Connector,
    our_token: Token,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The whole promise: told before charging, charged, invoiced at month end, printed on the PDF."""
    settings.BILLING_RENDER_DOCUMENTS = True
    driver = our_token.driver
    plan_subscribe(driver=driver, plan=_cost_plus(), at=START - timedelta(days=30))
    charging, parking = timedelta(minutes=90), timedelta(minutes=45)
    estimate = price_estimate(
        connector=connector, driver=driver, energy_kwh=D("12.5"), duration=charging, parking=parking, at=START
    )
    post_cdr(ocpi, _session_cdr("12.5", charging, parking))

    with django_capture_on_commit_callbacks(execute=True):
        invoice_run(period=date(2026, 11, 1))

    invoice = Invoice.objects.get(driver=driver)
    (line,) = invoice.lines.all()
    assert (line.amount_excl_vat, line.vat_rate) == (estimate.totals.excl_vat, estimate.vat_rate)
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (
        estimate.totals.excl_vat,
        estimate.totals.vat,
        estimate.incl_vat,
    )
    assert invoice.document  # rendered by the task the run enqueued
    with invoice.document.open("rb") as pdf:
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert invoice.number in text
    assert f"€{estimate.incl_vat}" in text  # €12.89, as the app showed before charging
