"""A CDR POSTed over OCPI is priced after the commit (tasks run inline in tests), or waits for what it needs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from billing import receivers
from billing.models import CdrPrice, Dispute
from billing.services import cdrs_price, cdrs_price_pending
from billing.tasks import price_cdrs_task
from drivers.models import Token
from roaming.models import Cdr
from tests.billing.conftest import (
    NIGHT_TARIFF,
    TARIFF,
    cdr_body,
    location_body,
    post_cdr,
    tariff_url,
)
from tests.roaming.conftest import OcpiTestClient


def _price(ocpi_id: str = "CDR-1") -> CdrPrice:
    return CdrPrice.objects.select_related("cdr").get(cdr__ocpi_id=ocpi_id)


def test_a_posted_cdr_is_priced_from_our_copy_of_its_tariff(
    ocpi: OcpiTestClient, held_tariff: dict[str, Any], our_token: Token
) -> None:
    post_cdr(ocpi, cdr_body(token_uid="04a1b2c3"))  # a lower-case uid is still our token

    price = _price()
    assert price.status == CdrPrice.Status.PRICED
    assert (price.total_excl_vat, price.total_incl_vat) == (Decimal("4.50"), Decimal("4.95"))
    assert (price.energy_excl_vat, price.time_excl_vat, price.fixed_excl_vat) == (
        Decimal("2.50"),
        Decimal("2.00"),
        Decimal("0.00"),
    )
    assert (price.energy_kwh, price.time_hours) == (Decimal(10), Decimal(1))
    assert (price.source, price.tariff_ocpi_id, price.currency) == ("held", "T12", "EUR")
    assert price.tariff is not None
    assert price.tariff.ocpi_id == "T12"
    assert price.tariff_last_updated == datetime(2026, 11, 1, tzinfo=UTC)
    assert [(line["dimension"], Decimal(line["excl_vat"])) for line in price.lines] == [
        ("ENERGY", Decimal("2.5")),
        ("TIME", Decimal(2)),
    ]
    assert price.cdr.driver == our_token.driver
    assert not Dispute.objects.exists()


def test_tariffs_inside_the_cdr_win_over_our_copy(ocpi: OcpiTestClient, held_tariff: dict[str, Any]) -> None:
    as_sent = {**TARIFF, "elements": [{"price_components": [{"type": "ENERGY", "price": 0.40, "step_size": 1}]}]}
    post_cdr(ocpi, cdr_body(own_tariff=as_sent, total=("4.00", None)))

    price = _price()
    assert (price.status, price.source, price.tariff) == ("PRICED", "cdr", None)
    assert (price.total_excl_vat, price.total_incl_vat) == (Decimal("4.00"), None)
    assert not Dispute.objects.exists()


def test_a_cdr_whose_tariff_we_lack_waits_and_is_priced_when_the_tariff_arrives(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body())
    price = _price()
    assert (price.status, price.reason) == ("UNPRICED", "tariff BE/BEC/T12 not held yet")
    assert (price.waiting_for, price.waiting_id, price.total_excl_vat) == ("tariff", "T12", None)

    assert ocpi.put(tariff_url(TARIFF), TARIFF).status_code == 1000

    price = _price()
    assert (price.status, price.reason, price.total_excl_vat) == ("PRICED", "", Decimal("4.50"))
    assert list(Cdr.objects.get().linked_tariffs.values_list("ocpi_id", flat=True)) == ["T12"]


def test_a_cdr_before_its_location_is_linked_and_priced_when_it_arrives(ocpi: OcpiTestClient) -> None:
    """The night tariff reads the local clock: 21:30-22:30 UTC is 22:30-23:30 in Brussels (night, 0.20)."""
    assert ocpi.put(tariff_url(NIGHT_TARIFF), NIGHT_TARIFF).status_code == 1000
    body = cdr_body(tariff_id="NIGHT", start="2026-11-10T21:30:00Z", end="2026-11-10T22:30:00Z", total=("2.00", None))
    post_cdr(ocpi, body)
    price = _price()
    assert (price.status, price.waiting_for, price.waiting_id) == ("UNPRICED", "location", "LOC1")
    assert "location BE/BEC/LOC1 not held yet" in price.reason

    assert ocpi.put("/ocpi/2.2.1/locations/BE/BEC/LOC1", location_body()).status_code == 1000

    cdr = Cdr.objects.get()
    assert cdr.location is not None
    assert cdr.location.ocpi_id == "LOC1"
    price = _price()
    assert (price.status, price.total_excl_vat) == ("PRICED", Decimal("2.00"))
    assert not Dispute.objects.exists()


def test_a_tariff_without_time_restrictions_needs_no_location(
    ocpi: OcpiTestClient, held_tariff: dict[str, Any]
) -> None:
    post_cdr(ocpi, cdr_body(location_id="NOWHERE"))
    assert _price().status == "PRICED"


def test_the_backlog_is_priced_by_the_periodic_task(
    ocpi: OcpiTestClient, held_tariff: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CDR joins the backlog with its own commit; what no wake-up reached (a broker down, a worker lost) is
    priced by the periodic drain."""
    monkeypatch.setattr(receivers, "_kick", lambda: None)
    post_cdr(ocpi, cdr_body("CDR-1"))
    post_cdr(ocpi, cdr_body("CDR-2"))
    assert set(CdrPrice.objects.values_list("status", flat=True)) == {"PENDING"}

    assert price_cdrs_task.apply().get() == 2
    assert CdrPrice.objects.filter(status="PRICED").count() == 2
    assert cdrs_price_pending(limit=10) == 0


def test_the_backlog_takes_unpriced_cdrs_whose_tariff_has_arrived(ocpi: OcpiTestClient) -> None:
    post_cdr(ocpi, cdr_body())
    assert cdrs_price_pending(limit=10) == 0  # still waiting: nothing to do
    # The tariff arrives without the signal reaching billing (e.g. written by a sync before a deploy).
    from roaming.ocpi.v2_2_1 import Tariff as OcpiTariff
    from roaming.ocpi.v2_2_1.mapping import tariff_data
    from roaming.services.tariffs import tariffs_upsert
    from roaming.signals import tariffs_stored

    receivers = tariffs_stored.receivers
    tariffs_stored.receivers = []
    try:
        tariffs_upsert(partner=Cdr.objects.get().partner, items=[tariff_data(OcpiTariff.model_validate(TARIFF))])
    finally:
        tariffs_stored.receivers = receivers
    assert _price().status == "UNPRICED"

    assert cdrs_price_pending(limit=10) == 1
    assert _price().status == "PRICED"


def test_a_cdr_with_an_unreadable_tariff_is_unpriced_with_the_reason(ocpi: OcpiTestClient) -> None:
    dollars = {**TARIFF, "currency": "USD"}
    assert ocpi.put(tariff_url(dollars), dollars).status_code == 1000
    post_cdr(ocpi, cdr_body())
    price = _price()
    assert (price.status, price.waiting_for) == ("UNPRICED", "")
    assert "is in USD, the CDR in EUR" in price.reason


def test_pricing_twice_changes_nothing(ocpi: OcpiTestClient, held_tariff: dict[str, Any]) -> None:
    post_cdr(ocpi, cdr_body(total=("9.00", "9.90")))
    first = _price()
    cdrs_price(cdr_ids=[first.cdr_id])
    again = _price()
    assert (again.pk, again.total_excl_vat) == (first.pk, first.total_excl_vat)
    assert Dispute.objects.count() == 1
