"""Short builders for tariff engine tests: tariffs from OCPI-shaped dicts, sessions from (kind, minutes) steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.tariffs import Cdr, CdrPrice, ChargingPeriod, Tariff, price_cdr
from billing.tariffs.ocpi_json import tariff_from_ocpi
from tests.examples import example

D = Decimal
SIXTY = Decimal(60)
NOTHING = Decimal(0)


def spec_tariff(name: str, **changes: Any) -> Tariff:
    """An official example tariff (tariffs/<name>.json), optionally with top-level fields changed."""
    return tariff_from_ocpi({**example(f"tariffs/{name}.json"), **changes})


def tariff(*elements: dict[str, Any], tariff_id: str = "T", currency: str = "EUR", **fields: Any) -> Tariff:
    return tariff_from_ocpi({"id": tariff_id, "currency": currency, "elements": list(elements), **fields})


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    return {"price_components": list(components), **({"restrictions": restrictions} if restrictions else {})}


def component(kind: str, price: str | float, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "price": D(str(price)), "step_size": step}
    if vat is not None:
        data["vat"] = D(str(vat))
    return data


def energy(price: str | float, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    return component("ENERGY", price, vat, step)


def time(price: str | float, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    return component("TIME", price, vat, step)


def parking(price: str | float, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    return component("PARKING_TIME", price, vat, step)


def flat(price: str | float, vat: float | None = None) -> dict[str, Any]:
    return component("FLAT", price, vat, 1)


def utc(text: str) -> datetime:
    """'2024-01-08 09:30' as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """One charging period to build: `minutes` of charging (with kWh), parking or reservation."""

    kind: str
    minutes: Decimal
    kwh: Decimal = NOTHING
    max_current: Decimal | None = None
    min_current: Decimal | None = None
    max_power: Decimal | None = None
    min_power: Decimal | None = None
    tariff_id: str | None = None


def charge(minutes: float | str, kwh: float | str = 0, **dimensions: Any) -> Step:
    values: dict[str, Any] = {k: v if k == "tariff_id" else D(str(v)) for k, v in dimensions.items()}
    return Step("charge", D(str(minutes)), D(str(kwh)), **values)


def park(minutes: float | str, **extra: Any) -> Step:
    return Step("park", D(str(minutes)), **extra)


def reserve(minutes: float | str, **extra: Any) -> Step:
    return Step("reserve", D(str(minutes)), **extra)


def build_cdr(
    start: datetime | str,
    *steps: Step,
    tariffs: Tariff | list[Tariff] | None = None,
    currency: str = "EUR",
    **extra: Any,
) -> Cdr:
    """A CDR whose periods follow each other: time volumes equal the wall-clock minutes."""
    at = utc(start) if isinstance(start, str) else start
    begin = at
    periods = []
    for step in steps:
        hours = step.minutes / SIXTY
        periods.append(
            ChargingPeriod(
                start_date_time=at,
                energy=step.kwh,
                time=hours if step.kind == "charge" else D(0),
                parking_time=hours if step.kind == "park" else D(0),
                reservation_time=hours if step.kind == "reserve" else None,
                min_current=step.min_current,
                max_current=step.max_current,
                min_power=step.min_power,
                max_power=step.max_power,
                tariff_id=step.tariff_id,
            )
        )
        at += timedelta(seconds=float(step.minutes * SIXTY))
    carried = tuple([tariffs] if isinstance(tariffs, Tariff) else tariffs or [])
    return Cdr(
        start_date_time=begin,
        end_date_time=at,
        currency=currency,
        charging_periods=tuple(periods),
        tariffs=carried,
        **extra,
    )


def price(
    tariffs: Tariff | list[Tariff], start: datetime | str, *steps: Step, zone: str = "UTC", **extra: Any
) -> CdrPrice:
    """Price a session made of `steps` with the tariffs carried in the CDR."""
    return price_cdr(build_cdr(start, *steps, tariffs=tariffs, **extra), time_zone=zone)


def totals(result: CdrPrice) -> tuple[str, str | None]:
    """The rounded total as strings, e.g. ('9.00', '10.30'), for compact asserts."""
    incl = result.total.incl_vat
    return str(result.total.excl_vat), None if incl is None else str(incl)


def exact(result: CdrPrice) -> tuple[Decimal, Decimal | None]:
    return result.exact_total.excl_vat, result.exact_total.incl_vat
