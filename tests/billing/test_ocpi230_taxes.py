"""OCPI 2.3.0 taxes in billing: the engine prices `tax_included` tariffs (the spec's North American examples
tariff_19, taxes on top, and tariff_20, taxes included) and PriceLimits; reconciliation reads a 2.3.0 CDR's Price
as before_taxes (excl.) and before_taxes plus the sum of its taxes (incl.)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from billing.models import CdrPrice, Dispute
from billing.tariffs import TaxIncluded
from billing.tariffs.ocpi_json import tariff_from_ocpi
from roaming.models import Cdr
from tests.billing.conftest import cdr_body
from tests.billing.tariffs import charge, price, totals
from tests.examples import example
from tests.roaming.conftest import OcpiTestClient

D = Decimal
MONDAY = "2024-01-08 09:30"


def spec_tariff_230(name: str, **changes: Any) -> Any:
    return tariff_from_ocpi({**example(f"tariffs/{name}.json", "2.3.0"), **changes})


# --- the engine -------------------------------------------------------------------------------------------------


def test_tariff_19_prices_are_before_taxes_which_come_on_top() -> None:
    tariff = spec_tariff_230("tariff_19_simple_north_american_exclusive")
    assert tariff.tax_included is TaxIncluded.NO
    result = price(tariff, MONDAY, charge(150), currency="CAD")  # 2.5 hours at C$ 2.00
    assert totals(result) == ("5.00", None)  # no VAT rate: the taxes on top are not known to us
    assert result.excl_vat_known


def test_tariff_20_prices_include_the_taxes() -> None:
    tariff = spec_tariff_230("tariff_20_simple_north_american_inclusive")
    assert tariff.tax_included is TaxIncluded.YES
    result = price(
        tariff, MONDAY, charge(150), currency="CAD"
    )  # 2.5 hours at C$ 2.10 incl. taxes: C$ 5.25 (the spec's figure)
    assert result.total.incl_vat == D("5.25")
    assert not result.excl_vat_known  # how much of it is tax, the tariff does not say
    assert any("incl. taxes" in warning for warning in result.warnings)


def test_a_tax_inclusive_price_with_a_vat_rate_is_split() -> None:
    tariff = spec_tariff_230("tariff_20_simple_north_american_inclusive")
    with_rate = tariff_from_ocpi(
        {**example("tariffs/tariff_20_simple_north_american_inclusive.json", "2.3.0"), "elements": [
            {"price_components": [{"type": "TIME", "price": D("2.10"), "vat": D("5"), "step_size": 1}]}
        ]}
    )  # fmt: skip
    result = price(with_rate, MONDAY, charge(150), currency="CAD")
    assert totals(result) == ("5.00", "5.25")  # 2.10 incl. 5 % is 2.00 excl.
    assert result.excl_vat_known
    assert tariff.id == with_rate.id


def test_no_taxes_applicable_means_incl_equals_excl() -> None:
    tariff = spec_tariff_230("tariff_19_simple_north_american_exclusive", tax_included="N/A")
    assert totals(price(tariff, MONDAY, charge(150), currency="CAD")) == ("5.00", "5.00")


def test_the_same_tariff_without_tax_included_prices_as_2_2_1() -> None:
    tariff = spec_tariff_230("tariff_19_simple_north_american_exclusive", tax_included=None)
    assert tariff.tax_included is None
    assert totals(price(tariff, MONDAY, charge(150), currency="CAD")) == ("5.00", None)


def test_price_limits_bound_before_and_after_taxes() -> None:
    tariff = spec_tariff_230("tariff_6_025kwh_start_max_price")
    assert (tariff.max_price.excl_vat, tariff.max_price.incl_vat) == (D("10.00"), D("11.00"))
    assert totals(price(tariff, MONDAY, charge(300, 50))) == ("10.00", "11.00")  # the spec's capped figure
    assert totals(price(tariff, MONDAY, charge(180, 30))) == ("8.00", "8.85")


# --- reconciliation of 2.3.0 CDRs -------------------------------------------------------------------------------


def _cdr_230(total: tuple[str, list[str] | None], **changes: Any) -> dict[str, Any]:
    """cdr_body in 2.3.0 shape: total = (before_taxes, tax amounts or None for no taxes list)."""
    body = copy.deepcopy(cdr_body(**changes))
    before, taxes = total
    body["total_cost"] = {"before_taxes": float(D(before))}
    if taxes is not None:
        body["total_cost"]["taxes"] = [{"name": f"TAX{i}", "amount": float(D(a))} for i, a in enumerate(taxes)]
    return body


def _post(ocpi: OcpiTestClient, body: dict[str, Any]) -> Cdr:
    reply = ocpi.post("/ocpi/2.3.0/cdrs", body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    return Cdr.objects.get(ocpi_id=body["id"])


@pytest.mark.usefixtures("held_tariff")
def test_before_taxes_and_the_sum_of_taxes_match_our_price(ocpi: OcpiTestClient) -> None:
    cdr = _post(ocpi, _cdr_230(("4.50", ["0.30", "0.15"])))  # our price: 4.50 excl., 4.95 incl. VAT
    assert (cdr.total_cost_excl_vat, cdr.total_cost_incl_vat) == (D("4.5"), D("4.95"))
    priced = CdrPrice.objects.get(cdr=cdr)
    assert (priced.status, priced.total_excl_vat, priced.total_incl_vat) == ("PRICED", D("4.5"), D("4.95"))
    assert not Dispute.objects.exists()


@pytest.mark.usefixtures("held_tariff")
def test_taxes_that_do_not_add_up_to_our_vat_are_disputed(ocpi: OcpiTestClient) -> None:
    _post(ocpi, _cdr_230(("4.50", ["0.90"])))
    dispute = Dispute.objects.get()
    assert [(d["dimension"], D(d["cpo"]), D(d["ours"])) for d in dispute.differences] == [
        ("total incl. VAT", D("5.40"), D("4.95"))
    ]
    assert dispute.amount_at_stake == 0  # before taxes the CPO asks what we computed


@pytest.mark.usefixtures("held_tariff")
def test_a_before_taxes_total_above_ours_is_disputed(ocpi: OcpiTestClient) -> None:
    _post(ocpi, _cdr_230(("5.00", None)))  # no taxes list: nothing to compare incl. taxes
    dispute = Dispute.objects.get()
    assert [d["dimension"] for d in dispute.differences] == ["total"]
    assert dispute.amount_at_stake == D("0.50")


INCLUSIVE = {
    "country_code": "BE",
    "party_id": "BEC",
    "id": "INCL",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.10, "step_size": 1}]}],
    "tax_included": "YES",
    "last_updated": "2026-11-01T00:00:00Z",
}


@pytest.mark.usefixtures("held_tariff")
@pytest.mark.parametrize(("taxes", "disputed"), [(["0.25"], False), (["0.65"], True)])
def test_a_tax_inclusive_tariff_is_reconciled_incl_taxes(
    ocpi: OcpiTestClient, taxes: list[str], disputed: bool
) -> None:
    # One hour at 2.10 incl. taxes; the CPO splits it as 1.85 + 0.25. Our excl. figure is unknown: not compared.
    cdr = _post(ocpi, _cdr_230(("1.85", taxes), tariff_id="INCL", own_tariff=INCLUSIVE))
    priced = CdrPrice.objects.get(cdr=cdr)
    assert (priced.status, priced.total_excl_vat, priced.total_incl_vat) == ("PRICED", None, D("2.10"))
    dispute = Dispute.objects.filter(cdr=cdr).first()
    assert (dispute is not None) == disputed
    if dispute is not None:
        assert [d["dimension"] for d in dispute.differences] == ["total incl. VAT"]
        assert dispute.amount_at_stake == D("0.40")
