"""The generated network: deterministic by seed, plausible, and of the requested proportions."""

from __future__ import annotations

import re

from cposim import SimConfig, Simulator
from cposim.network import REGIONS

EVSE_ID = re.compile(r"^[A-Z]{2}\*[A-Z0-9]{3}\*E[A-Z0-9*]{1,30}$")
LATITUDE = re.compile(r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
LONGITUDE = re.compile(r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def network(**overrides: object) -> Simulator:
    """A simulator that is never started: the network needs no server."""
    return Simulator(SimConfig(**overrides))  # type: ignore[arg-type]


def test_same_seed_gives_the_same_network_and_tariffs() -> None:
    first, second = network(seed=7, locations=50), network(seed=7, locations=50)
    assert [first.location(i) for i in first.location_ids()] == [second.location(i) for i in second.location_ids()]
    assert first.tariffs() == second.tariffs()


def test_other_seed_gives_another_network() -> None:
    first, second = network(seed=7, locations=20), network(seed=8, locations=20)
    assert first.location("LOC000001") != second.location("LOC000001")
    assert first.tariffs() != second.tariffs()


def test_a_small_network_is_a_prefix_of_a_large_one() -> None:
    small, large = network(seed=3, locations=10), network(seed=3, locations=5000)
    assert [small.location(i) for i in small.location_ids()] == [large.location(i) for i in large.location_ids()[:10]]


def test_size_ratios_match_the_target_of_5_evses_and_10_connectors_per_location() -> None:
    sim = network(seed=42, locations=2000)
    locations = [sim.location(i) for i in sim.location_ids()]
    evses = [e for loc in locations for e in loc["evses"]]
    connectors = [c for e in evses for c in e["connectors"]]
    assert len(locations) == 2000
    assert 4.8 <= len(evses) / len(locations) <= 5.4
    assert 1.9 <= len(connectors) / len(evses) <= 2.1
    assert {len(loc["evses"]) for loc in locations} == {1, 2, 3, 4, 5, 6}


def test_evse_distribution_is_configurable() -> None:
    sim = network(locations=200, evse_weights=(1,))
    assert all(len(sim.location(i)["evses"]) == 1 for i in sim.location_ids())


def test_locations_are_plausible_ocpi_objects() -> None:
    sim = network(seed=42, locations=300, country_code="DE", party_id="ABC")
    tariff_ids = {t["id"] for t in sim.tariffs()}
    countries = {r.country: r for r in REGIONS.values()}
    seen_countries, standards = set(), set()
    for location_id in sim.location_ids():
        loc = sim.location(location_id)
        assert (loc["country_code"], loc["party_id"], loc["id"]) == ("DE", "ABC", location_id)
        assert loc["country"] in countries
        assert loc["time_zone"] == countries[loc["country"]].time_zone
        assert LATITUDE.match(loc["coordinates"]["latitude"])
        assert LONGITUDE.match(loc["coordinates"]["longitude"])
        assert len(loc["address"]) <= 45
        assert len(loc["city"]) <= 45
        assert len(loc["postal_code"]) <= 10
        assert DATETIME.match(loc["last_updated"])
        assert "twentyfourseven" in loc["opening_times"]
        seen_countries.add(loc["country"])
        for evse in loc["evses"]:
            assert EVSE_ID.match(evse["evse_id"]), evse["evse_id"]
            assert evse["evse_id"].startswith("DE*ABC*E")
            assert evse["last_updated"] <= loc["last_updated"]
            assert "REMOTE_START_STOP_CAPABLE" in evse["capabilities"]
            for connector in evse["connectors"]:
                assert connector["last_updated"] <= evse["last_updated"]
                assert set(connector["tariff_ids"]) <= tariff_ids
                standards.add(connector["standard"])
    assert seen_countries == {"NLD", "BEL", "DEU"}
    assert {"IEC_62196_T2", "IEC_62196_T2_COMBO", "CHADEMO"} <= standards


def test_tariffs_use_real_world_components_and_restrictions() -> None:
    tariffs = network(regions=("NL", "DE")).tariffs()
    kinds = {c["type"] for t in tariffs for e in t["elements"] for c in e["price_components"]}
    restrictions = {k for t in tariffs for e in t["elements"] for k in (e.get("restrictions") or {})}
    assert kinds == {"ENERGY", "TIME", "PARKING_TIME", "FLAT"}
    assert {"start_time", "end_time", "day_of_week", "min_duration"} <= restrictions
    assert any("min_price" in t for t in tariffs)
    assert any("max_price" in t for t in tariffs)
    vats = {str(c.get("vat")) for t in tariffs for e in t["elements"] for c in e["price_components"]}
    assert {"21", "19"} <= vats
    assert all(t["currency"] == "EUR" for t in tariffs)
