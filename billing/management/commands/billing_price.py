"""`manage.py billing_price --tariff TARIFF.json --cdr CDR.json [--time-zone Europe/Amsterdam]`

Prices an OCPI 2.2.1 CDR with the tariff engine and prints what it costs and why, as one JSON object. For support
("why does this CDR cost that?") and for checking a CPO's figures by hand; the CDR's own cost fields are ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.tariffs import CdrPrice, Price, PriceLine, TariffInputError, price_cdr
from billing.tariffs.ocpi_json import cdr_from_ocpi, tariffs_from_ocpi

# The breakdown is for reading: line amounts to 4 decimals (as OCPI prints numbers), volumes to 6 (a
# hundredth of a second in hours). Totals are computed from the unrounded lines.
LINE_AMOUNT_PLACES = 4
VOLUME_PLACES = 6


class Command(BaseCommand):
    help = "Price an OCPI 2.2.1 CDR with OCPI tariffs and print the totals and the breakdown as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tariff", required=True, help="an OCPI Tariff object, or a JSON list of them")
        parser.add_argument("--cdr", required=True, help="an OCPI CDR; tariffs it carries take precedence")
        parser.add_argument("--time-zone", default="UTC", help="the Location's IANA time zone (default UTC)")

    def handle(self, *args: Any, **options: Any) -> None:
        tariff_data = _read_json(options["tariff"], "--tariff")
        cdr_data = _read_json(options["cdr"], "--cdr")
        try:
            tariffs = tariffs_from_ocpi(tariff_data)
        except TariffInputError as exc:
            raise CommandError(f"invalid tariff in {options['tariff']}: {exc}") from None
        try:
            cdr = cdr_from_ocpi(cdr_data)
        except TariffInputError as exc:
            raise CommandError(f"invalid CDR in {options['cdr']}: {exc}") from None
        try:
            result = price_cdr(cdr, time_zone=options["time_zone"], available=tariffs)
        except TariffInputError as exc:
            raise CommandError(f"cannot price the CDR: {exc}") from None
        self.stdout.write(json.dumps(as_json(result), indent=2))


def _read_json(path: str, option: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{option}: cannot read {path}: {exc.strerror}") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{option}: {path} is not JSON: {exc}") from None


def as_json(result: CdrPrice) -> dict[str, Any]:
    """The engine's answer with OCPI's names for the totals; amounts as decimal strings."""
    return {
        "currency": result.currency,
        "total_cost": _price(result.total),
        "total_energy_cost": _price(result.energy),
        "total_time_cost": _price(result.time),
        "total_parking_cost": _price(result.parking),
        "total_fixed_cost": _price(result.fixed),
        "total_reservation_cost": _price(result.reservation),
        "total_energy": _plain(result.energy_kwh, VOLUME_PLACES),
        "total_time": _plain(result.time_hours, VOLUME_PLACES),
        "total_parking_time": _plain(result.parking_hours, VOLUME_PLACES),
        "total_reservation_time": _plain(result.reservation_hours, VOLUME_PLACES),
        "lines": [_line(line) for line in result.lines],
        "warnings": list(result.warnings),
    }


def _price(price: Price) -> dict[str, str]:
    data = {"excl_vat": str(price.excl_vat)}
    if price.incl_vat is not None:
        data["incl_vat"] = str(price.incl_vat)
    return data


def _line(line: PriceLine) -> dict[str, Any]:
    return {
        "kind": line.kind.value,
        "dimension": line.dimension.value if line.dimension is not None else None,
        "reservation": line.reservation,
        "period": line.period,
        "tariff_id": line.tariff_id,
        "element": line.element,
        "start": _instant(line.start),
        "end": _instant(line.end),
        "volume": _plain(line.volume, VOLUME_PLACES),
        "unit_price": _plain(line.unit_price, LINE_AMOUNT_PLACES),
        "vat": _plain(line.vat, 2) if line.vat is not None else None,
        "step_size": line.step_size,
        "excl_vat": _plain(line.excl_vat, LINE_AMOUNT_PLACES),
        "incl_vat": _plain(line.incl_vat, LINE_AMOUNT_PLACES) if line.incl_vat is not None else None,
    }


def _plain(value: Decimal, places: int) -> str:
    """A readable decimal: rounded half up to `places`, trailing zeros dropped ('1.25', '2', '0.083333')."""
    text = format(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
