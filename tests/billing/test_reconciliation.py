"""Our price against the CPO's: tolerance, each dimension, volumes, credits, and decisions with who and when."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import override_settings

from billing.models import CdrPrice, Dispute
from billing.reconciliation import Tolerance
from billing.services import DecisionError, dispute_decide
from tests.billing.conftest import cdr_body, post_cdr
from tests.roaming.conftest import OcpiTestClient

pytestmark = pytest.mark.usefixtures("held_tariff")


def _dispute(ocpi_id: str = "CDR-1") -> Dispute | None:
    return Dispute.objects.filter(cdr__ocpi_id=ocpi_id).first()


def test_tolerance_is_an_amount_plus_a_percentage_of_the_larger_value() -> None:
    tolerance = Tolerance(Decimal("0.01"), Decimal("0.5"))
    # 4.50 and 4.54: allowed 0.01 + 0.5 % of 4.54 = 0.0327; the difference 0.04 is beyond.
    assert tolerance.exceeded(Decimal("4.54"), Decimal("4.50"))
    assert not tolerance.exceeded(Decimal("4.53"), Decimal("4.50"))  # 0.03 < 0.03265
    assert not tolerance.exceeded(Decimal("0.01"), Decimal("0.00"))  # exactly the amount: inside
    assert tolerance.exceeded(Decimal("0.02"), Decimal("0.00"))


@override_settings(BILLING_TOLERANCE_AMOUNT="0.05", BILLING_TOLERANCE_PERCENT="0")
@pytest.mark.parametrize(("cpo_total", "disputed"), [("4.55", False), ("4.56", True), ("4.45", False), ("4.44", True)])
def test_a_total_just_inside_the_tolerance_is_accepted_just_outside_disputed(
    ocpi: OcpiTestClient, cpo_total: str, disputed: bool
) -> None:
    post_cdr(ocpi, cdr_body(total=(cpo_total, "4.95")))
    dispute = _dispute()
    assert (dispute is not None) == disputed
    if dispute is not None:
        assert dispute.differences == [
            {
                "dimension": "total",
                "cpo": f"{cpo_total}00",
                "ours": "4.50",
                "difference": str(Decimal(cpo_total) - Decimal("4.50")) + "00",
            }
        ]
        assert dispute.amount_at_stake == Decimal(cpo_total) - Decimal("4.50")
        assert (dispute.status, dispute.currency, dispute.partner_id) == ("OPEN", "EUR", dispute.cdr.partner_id)


def test_the_total_incl_vat_is_compared_where_both_are_known(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body(total=("4.50", "5.40")))
    dispute = _dispute()
    assert dispute is not None
    assert [d["dimension"] for d in dispute.differences] == ["total incl. VAT"]
    assert dispute.amount_at_stake == 0


@pytest.mark.parametrize(
    ("dimension", "theirs", "ours"),
    [("energy", "3.00", "2.50"), ("time", "1.00", "2.00"), ("parking", "0.50", "0.00"), ("fixed", "1.00", "0.00"),
     ("reservation", "0.75", "0.00")],
)  # fmt: skip
def test_each_dimension_the_cpo_gives_is_compared(ocpi: OcpiTestClient, dimension: str, theirs: str, ours: str) -> None:
    post_cdr(ocpi, cdr_body(costs={dimension: (theirs, None)}))
    dispute = _dispute()
    assert dispute is not None
    assert [(d["dimension"], Decimal(d["cpo"]), Decimal(d["ours"])) for d in dispute.differences] == [
        (dimension, Decimal(theirs), Decimal(ours))
    ]


def test_dimensions_the_cpo_gives_right_open_nothing(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body(costs={"energy": ("2.50", "2.75"), "time": ("2.00", "2.20")}))
    assert _dispute() is None


@pytest.mark.parametrize(
    ("changes", "dimension", "theirs", "ours"),
    [
        ({"total_energy": 10.5}, "total_energy", "10.5", "10"),
        ({"total_time": 1.25}, "total_time", "1.25", "1"),
        ({"total_parking_time": 0.5}, "total_parking_time", "0.5", "0"),
    ],
)
def test_volume_totals_that_contradict_the_periods_are_disputed(
    ocpi: OcpiTestClient, changes: dict[str, Any], dimension: str, theirs: str, ours: str
) -> None:
    post_cdr(ocpi, cdr_body(**changes))
    dispute = _dispute()
    assert dispute is not None
    assert [(d["dimension"], Decimal(d["cpo"]), Decimal(d["ours"])) for d in dispute.differences] == [
        (dimension, Decimal(theirs), Decimal(ours))
    ]
    assert dispute.amount_at_stake == 0  # the money agrees


def test_volumes_within_rounding_of_the_periods_are_accepted(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body(total_energy=10.0009, total_time=0.9991))
    assert _dispute() is None


def test_a_credit_cdr_cancels_the_price_and_closes_the_dispute(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body("CDR-1", total=("6.00", "6.60")))
    assert _dispute("CDR-1") is not None

    credit = cdr_body("CDR-1-C", total=("-6.00", "-6.60"), credit=True, credit_reference_id="CDR-1")
    post_cdr(ocpi, credit)

    original = CdrPrice.objects.get(cdr__ocpi_id="CDR-1")
    assert (original.status, original.total_excl_vat) == ("CREDITED", Decimal("4.50"))
    credited = CdrPrice.objects.get(cdr__ocpi_id="CDR-1-C")
    assert (credited.status, credited.total_excl_vat, credited.total_incl_vat) == (
        "PRICED",
        Decimal("-4.50"),
        Decimal("-4.95"),
    )
    assert (credited.energy_excl_vat, credited.source) == (Decimal("-2.50"), "held")
    dispute = _dispute("CDR-1")
    assert dispute is not None
    assert (dispute.status, dispute.decided_by) == ("RESOLVED", None)
    assert "credit CDR BE/BEC/CDR-1-C" in dispute.note
    assert [e.status for e in dispute.events.all()] == ["OPEN", "RESOLVED"]
    assert _dispute("CDR-1-C") is None  # it takes back exactly what was billed


def test_a_credit_that_does_not_cancel_the_billed_total_is_disputed(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body("CDR-1"))
    post_cdr(ocpi, cdr_body("CDR-1-C", total=("-4.00", None), credit=True, credit_reference_id="CDR-1"))
    dispute = _dispute("CDR-1-C")
    assert dispute is not None
    assert [(d["dimension"], Decimal(d["cpo"]), Decimal(d["ours"])) for d in dispute.differences] == [
        ("credit", Decimal("-4.00"), Decimal("-4.50"))
    ]
    assert dispute.amount_at_stake == Decimal("0.50")


def test_a_credit_before_its_original_waits_for_it(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body("CDR-1-C", total=("-4.50", "-4.95"), credit=True, credit_reference_id="CDR-1"))
    waiting = CdrPrice.objects.get(cdr__ocpi_id="CDR-1-C")
    assert (waiting.status, waiting.waiting_for, waiting.waiting_id) == ("UNPRICED", "cdr", "CDR-1")

    post_cdr(ocpi, cdr_body("CDR-1"))

    assert CdrPrice.objects.get(cdr__ocpi_id="CDR-1").status == "CREDITED"
    assert CdrPrice.objects.get(cdr__ocpi_id="CDR-1-C").total_excl_vat == Decimal("-4.50")


def test_decisions_are_kept_with_who_and_when(ocpi: OcpiTestClient, staff: User) -> None:
    post_cdr(ocpi, cdr_body(total=("6.00", "6.60")))
    dispute = _dispute()
    assert dispute is not None

    decided = dispute_decide(dispute=dispute, outcome=Dispute.Status.OURS_ACCEPTED, user=staff, note="tariff says 4.50")
    assert (decided.status, decided.decided_by, decided.note) == ("OURS_ACCEPTED", staff, "tariff says 4.50")
    assert decided.decided_at is not None

    with pytest.raises(DecisionError):
        dispute_decide(dispute=dispute, outcome=Dispute.Status.RESOLVED, user=staff, note=" ")
    redecided = dispute_decide(dispute=dispute, outcome=Dispute.Status.CPO_ACCEPTED, user=staff)
    assert redecided.status == "CPO_ACCEPTED"
    assert [(e.status, e.user) for e in dispute.events.all()] == [
        ("OPEN", None),
        ("OURS_ACCEPTED", staff),
        ("CPO_ACCEPTED", staff),
    ]
