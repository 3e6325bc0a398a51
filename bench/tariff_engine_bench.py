"""How many CDRs a second the tariff engine prices in one process (target: at least 5,000).

The CDRs are realistic and deterministic (random.Random(seed)): 2 to 12 charging periods of charging then
parking, in Europe/Amsterdam, priced with one of 50 tariffs of 3 to 6 elements with time-of-day and
day-of-week restrictions. Building them is not timed; pricing is.

    .venv/bin/python -m bench.tariff_engine_bench [--cdrs 20000] [--seed 7] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also runnable as a plain script

from billing.tariffs import (
    Cdr,
    ChargingPeriod,
    DayOfWeek,
    PriceComponent,
    Restrictions,
    Tariff,
    TariffDimension,
    TariffElement,
    price_cdr,
)

WEEKDAYS = frozenset(list(DayOfWeek)[:5])
WEEKEND = frozenset(list(DayOfWeek)[5:])
ZONE = "Europe/Amsterdam"


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(f"{rng.uniform(low, high):.2f}")


def build_tariff(rng: random.Random, number: int) -> Tariff:
    """3 to 6 elements: restricted ones first (time windows, days), an unrestricted fallback last."""
    elements = []
    for _ in range(rng.randint(2, 5)):
        begin = rng.randint(0, 23)
        end = (begin + rng.randint(2, 14)) % 24
        days = rng.choice([None, WEEKDAYS, WEEKEND])
        kinds = rng.sample([TariffDimension.ENERGY, TariffDimension.TIME, TariffDimension.PARKING_TIME], 2)
        elements.append(
            TariffElement(
                price_components=tuple(
                    PriceComponent(
                        type=kind, price=_money(rng, 0.1, 4), step_size=rng.choice([1, 60, 300]), vat=Decimal(21)
                    )
                    for kind in kinds
                ),
                restrictions=Restrictions(
                    start_time=clock(begin), end_time=clock(end), day_of_week=days or frozenset()
                ),
            )
        )
    elements.append(
        TariffElement(
            price_components=(
                PriceComponent(type=TariffDimension.FLAT, price=_money(rng, 0, 1), step_size=1, vat=Decimal(21)),
                PriceComponent(type=TariffDimension.ENERGY, price=_money(rng, 0.2, 0.6), step_size=1, vat=Decimal(21)),
                PriceComponent(type=TariffDimension.TIME, price=_money(rng, 0, 2), step_size=60, vat=Decimal(21)),
                PriceComponent(
                    type=TariffDimension.PARKING_TIME, price=_money(rng, 0, 6), step_size=300, vat=Decimal(21)
                ),
            )
        )
    )
    return Tariff(id=f"T{number}", currency="EUR", elements=tuple(elements))


def build_cdr(rng: random.Random, tariffs: list[Tariff]) -> Cdr:
    start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 365 * 24 * 60))
    count = rng.randint(2, 12)
    charging = rng.randint(1, count - 1)
    periods = []
    at = start
    for index in range(count):
        minutes = rng.randint(5, 60)
        if index < charging:
            power = Decimal(rng.choice([3.7, 7.4, 11, 22, 50]))
            hours = Decimal(minutes) / 60
            periods.append(
                ChargingPeriod(at, energy=(power * hours).quantize(Decimal("0.001")), time=hours, max_power=power)
            )
        else:
            periods.append(ChargingPeriod(at, parking_time=Decimal(minutes) / 60))
        at += timedelta(minutes=minutes)
    tariff = rng.choice(tariffs)
    return Cdr(
        start_date_time=start, end_date_time=at, currency="EUR", charging_periods=tuple(periods), tariffs=(tariff,)
    )


def bench_engine(*, count: int = 20_000, seed: int = 7, repeat: int = 3) -> dict[str, float]:
    """Price `count` CDRs `repeat` times; the best run's CDRs a second, with the CDRs' shape."""
    rng = random.Random(seed)
    tariffs = [build_tariff(rng, n) for n in range(50)]
    cdrs = [build_cdr(rng, tariffs) for _ in range(count)]
    best = float("inf")
    lines = 0
    for _ in range(repeat):
        began = time.perf_counter()
        lines = sum(len(price_cdr(cdr, time_zone=ZONE).lines) for cdr in cdrs)
        best = min(best, time.perf_counter() - began)
    return {
        "cdrs": count,
        "periods_per_cdr": round(sum(len(c.charging_periods) for c in cdrs) / count, 1),
        "lines_per_cdr": round(lines / count, 1),
        "seconds": round(best, 2),
        "rps": round(count / best),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tariff_engine_bench")
    parser.add_argument("--cdrs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best one is reported")
    args = parser.parse_args()
    result = bench_engine(count=args.cdrs, seed=args.seed, repeat=args.repeat)
    print(
        f"{result['cdrs']} CDRs ({result['periods_per_cdr']} periods, {result['lines_per_cdr']} breakdown lines "
        f"each): {result['rps']:,} CDRs/s (best of {args.repeat}, {result['seconds']:.2f} s)"
    )


if __name__ == "__main__":
    main()
