"""Tariffs the simulated CPO publishes, shaped like real European CPO price lists.

Per region: a plain AC kWh price, an AC price with a daytime idle fee, a time-based AC price with a
cap, a DC price with a start fee, evening peak and minimum price, an HPC price with a weekend
discount and a blocking fee, and a free tariff. Prices come from a seeded RNG and are Decimals.
"""

from __future__ import annotations

import random
import threading
from decimal import Decimal
from typing import Any

from cposim import protocol
from cposim.network import REGIONS, Region
from cposim.state import Store

WEEKDAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]
WEEKEND = ["SATURDAY", "SUNDAY"]


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 100


def _price(excl: Decimal, vat: Decimal) -> dict[str, Decimal]:
    return {"excl_vat": excl, "incl_vat": protocol.money(excl * (1 + vat / 100))}


def _component(kind: str, price: Decimal, vat: Decimal, step: int) -> dict[str, Any]:
    return {"type": kind, "price": price, "vat": vat, "step_size": step}


def region_tariffs(
    *, seed: int, region: Region, country_code: str, party_id: str, epoch: int, website: str
) -> list[dict[str, Any]]:
    """The tariffs of one region; the ids match `Network`'s connector `tariff_ids`."""
    rng = random.Random(f"tariffs:{seed}:{region.key}")
    vat = Decimal(region.vat)

    def tariff(suffix: str, elements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        tariff_id = f"{region.key}-{suffix}"
        body: dict[str, Any] = {
            "country_code": country_code,
            "party_id": party_id,
            "id": tariff_id,
            "currency": "EUR",
        }
        body.update(extra)
        body["tariff_alt_url"] = f"{website}/tariffs/{tariff_id}"
        body["elements"] = elements
        body["last_updated"] = protocol.format_epoch(epoch + rng.randrange(180 * 86_400))
        return body

    ac_kwh = _cents(rng, 29, 45)
    idle_kwh = _cents(rng, 27, 39)
    idle_fee = Decimal(rng.choice([3, 6, 9]))
    time_hour = _cents(rng, 120, 240)
    dc_start = _cents(rng, 35, 99)
    dc_kwh = _cents(rng, 49, 65)
    dc_peak = dc_kwh + _cents(rng, 5, 15)
    hpc_kwh = _cents(rng, 59, 79)
    hpc_weekend = hpc_kwh - _cents(rng, 5, 10)
    hpc_block = Decimal(rng.choice([6, 9, 12]))
    return [
        tariff("AC", [{"price_components": [_component("ENERGY", ac_kwh, vat, 1)]}], type="REGULAR"),
        tariff(
            "AC-IDLE",
            [
                {"price_components": [_component("ENERGY", idle_kwh, vat, 1)]},
                {
                    # Idle fee for cars left standing after 3 hours, daytime only, per started 5 minutes.
                    "price_components": [_component("PARKING_TIME", idle_fee, vat, 300)],
                    "restrictions": {"start_time": "08:00", "end_time": "20:00", "min_duration": 10_800},
                },
            ],
            type="REGULAR",
        ),
        tariff(
            "AC-TIME",
            [{"price_components": [_component("TIME", time_hour, vat, 60)]}],
            max_price=_price(Decimal(15), vat),
        ),
        tariff(
            "DC",
            [
                {"price_components": [_component("FLAT", dc_start, vat, 1)]},
                {
                    "price_components": [_component("ENERGY", dc_peak, vat, 1)],
                    "restrictions": {"start_time": "17:00", "end_time": "21:00", "day_of_week": WEEKDAYS},
                },
                {"price_components": [_component("ENERGY", dc_kwh, vat, 1)]},
            ],
            type="REGULAR",
            min_price=_price(Decimal(1), vat),
        ),
        tariff(
            "HPC",
            [
                {
                    "price_components": [_component("ENERGY", hpc_weekend, vat, 1)],
                    "restrictions": {"day_of_week": WEEKEND},
                },
                {"price_components": [_component("ENERGY", hpc_kwh, vat, 1)]},
                {
                    # Blocking fee per minute after 45 minutes, charging or not.
                    "price_components": [
                        _component("TIME", hpc_block, vat, 60),
                        _component("PARKING_TIME", hpc_block, vat, 60),
                    ],
                    "restrictions": {"min_duration": 2_700},
                },
            ],
            type="REGULAR",
        ),
        tariff("FREE", [{"price_components": [{"type": "FLAT", "price": Decimal(0), "step_size": 0}]}]),
    ]


class TariffBook:
    """The CPO's current tariffs: generated ones plus runtime replacements and deletions."""

    def __init__(
        self,
        *,
        store: Store,
        seed: int,
        regions: tuple[str, ...],
        country_code: str,
        party_id: str,
        epoch: int,
        website: str,
    ) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._tariffs: dict[str, dict[str, Any]] = {}
        for key in regions:
            for body in region_tariffs(
                seed=seed,
                region=REGIONS[key],
                country_code=country_code,
                party_id=party_id,
                epoch=epoch,
                website=website,
            ):
                self._tariffs[body["id"]] = body
        for tariff_id, body in store.items("tariff"):
            if body.get("deleted"):
                self._tariffs.pop(tariff_id, None)
            else:
                self._tariffs[tariff_id] = body["tariff"]

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._tariffs.values())

    def get(self, tariff_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._tariffs.get(tariff_id)

    def put(self, tariff: dict[str, Any]) -> None:
        with self._lock:
            self._tariffs[tariff["id"]] = tariff
            self.store.put("tariff", tariff["id"], {"tariff": tariff})

    def delete(self, tariff_id: str) -> bool:
        with self._lock:
            existed = self._tariffs.pop(tariff_id, None) is not None
            self.store.put("tariff", tariff_id, {"deleted": True})
            return existed
