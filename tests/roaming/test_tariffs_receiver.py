"""Tariffs module, our Receiver interface."""

from __future__ import annotations

import glob
from decimal import Decimal

import pytest
from django.test import Client

from roaming.models import PriceComponent, Tariff
from tests.examples import EXAMPLES_DIR, example
from tests.roaming.conftest import OcpiTestClient, registered_partner

TARIFF_EXAMPLES = sorted(p.split("/tariffs/")[1] for p in glob.glob(str(EXAMPLES_DIR / "tariffs" / "*.json")))


def _url(body: dict) -> str:
    return f"/ocpi/2.2.1/tariffs/{body['country_code']}/{body['party_id']}/{body['id']}"


@pytest.mark.parametrize("name", [n for n in TARIFF_EXAMPLES if n != "tariff_put_example.json"])
def test_official_tariff_examples_round_trip(ocpi: OcpiTestClient, name: str) -> None:
    body = example(f"tariffs/{name}")
    reply = ocpi.put(_url(body), body)
    assert (reply.http_status, reply.status_code) == (201, 1000), reply.body
    served = ocpi.get(_url(body)).data
    assert served == body


def test_prices_are_stored_as_exact_decimals(ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_4_complex.json")
    ocpi.put(_url(body), body)
    prices = sorted(PriceComponent.objects.filter(element__tariff__ocpi_id=body["id"]).values_list("price", flat=True))
    assert prices == [
        Decimal("1.00"),
        Decimal("1.25"),
        Decimal("2.00"),
        Decimal("2.50"),
        Decimal("5.00"),
        Decimal("6.00"),
    ]


def test_tariff_without_last_updated_is_refused(ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_put_example.json")  # the spec's own PUT example lacks last_updated
    reply = ocpi.put(_url(body), body)
    assert reply.status_code == 2001
    assert "last_updated" in reply.body["status_message"]
    assert not Tariff.objects.exists()


def test_replacing_a_tariff_replaces_its_elements(ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_1_simple_2hour.json")
    ocpi.put(_url(body), body)
    cheaper = {
        **body,
        "last_updated": "2030-01-01T00:00:00Z",
        "elements": [{"price_components": [{"type": "TIME", "price": 1.5, "vat": 10, "step_size": 60}]}],
    }
    assert ocpi.put(_url(body), cheaper).http_status == 200
    assert list(PriceComponent.objects.values_list("price", flat=True)) == [Decimal("1.5")]


def test_older_tariff_is_not_applied(ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_1_simple_2hour.json")
    ocpi.put(_url(body), body)
    older = {**body, "currency": "USD", "last_updated": "2000-01-01T00:00:00Z"}
    assert "Not applied" in ocpi.put(_url(body), older).body["status_message"]
    assert Tariff.objects.get().currency == body["currency"]


def test_the_same_tariff_under_a_newer_last_updated_moves_our_version_on(ocpi: OcpiTestClient) -> None:
    """Else a version between the two (older than the CPO's newest, newer than ours) would replace it."""
    body = {**example("tariffs/tariff_1_simple_2hour.json"), "last_updated": "2030-01-01T00:00:00Z"}
    ocpi.put(_url(body), body)
    assert ocpi.put(_url(body), {**body, "last_updated": "2030-03-01T00:00:00Z"}).http_status == 200

    between = {**body, "currency": "USD", "last_updated": "2030-02-01T00:00:00Z"}
    assert "Not applied" in ocpi.put(_url(body), between).body["status_message"]
    stored = Tariff.objects.get()
    assert (stored.currency, stored.last_updated.isoformat()) == (body["currency"], "2030-03-01T00:00:00+00:00")


def test_delete_keeps_the_tariff_for_history_but_stops_serving_it(ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_1_simple_2hour.json")
    ocpi.put(_url(body), body)
    assert ocpi.delete(_url(body)).status_code == 1000
    assert Tariff.objects.get().removed_at is not None
    assert ocpi.get(_url(body)).http_status == 404
    assert ocpi.delete("/ocpi/2.2.1/tariffs/DE/ALL/NOPE").http_status == 404


def test_another_cpo_cannot_touch_the_tariff(client: Client, ocpi: OcpiTestClient) -> None:
    body = example("tariffs/tariff_1_simple_2hour.json")
    ocpi.put(_url(body), body)
    _, token = registered_partner("Other CPO", [("NL", "OTH")])
    other = OcpiTestClient(client, token)
    assert other.get(_url(body)).http_status == 404
    assert other.delete(_url(body)).http_status == 404
    assert Tariff.objects.get().removed_at is None
