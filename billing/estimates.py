"""The price before charging: what a session at a connector will cost a driver, incl. VAT, with its breakdown.

Computed the way the charge will be (`billing.charges`): the CDR the session would produce is priced by the
tariff engine with our copy of the connector's tariff (the CPO's cost), and the driver's plan in force at the
start is applied to it by the same retail function. So for the same session (energy, charging and parking
time, start) the estimate and the invoice line agree to the cent. Volumes are taken at the 4 decimals a CDR
carries them with (OCPI), as the charge sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from billing.charges import cdr_power_class, driver_vat_rate, plan_in_force, plan_terms
from billing.models import RetailPlan
from billing.records import tariff_record
from billing.retail import AC, ZERO, RetailError, RetailPrice, SessionFacts, Totals, line_totals, retail_price
from billing.tariffs import Cdr as CdrRecord
from billing.tariffs import CdrPrice as EnginePrice
from billing.tariffs import ChargingPeriod, TariffInputError, price_cdr
from billing.tariffs.ocpi_json import cdr_from_ocpi
from drivers.models import Driver
from roaming.models import ChargingSession, Connector, Tariff

FOUR_PLACES = Decimal("0.0001")
SECONDS_PER_HOUR = Decimal(3600)


class EstimateError(ValueError):
    """No price can be given (no plan, no tariff held for the connector, no VAT rate for the driver).
    `reason` says which, for callers that answer differently (the driver API tells the app): `no_plan`,
    `no_tariff` (none of the connector's tariffs is held, or it cannot price the session) or `no_price`."""

    def __init__(self, message: str, reason: str = "no_price") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Estimate:
    """The driver's price of the session: `retail` excl. VAT (full precision, as the charge stores it), and
    `totals` as the invoice line will show it (cents, VAT of the driver's country)."""

    plan: RetailPlan
    currency: str
    power_class: str
    facts: SessionFacts
    start: datetime
    cost: EnginePrice | None  # the CPO's price by our engine; None when an own price rule made it unneeded
    retail: RetailPrice
    vat_rate: Decimal
    totals: Totals

    @property
    def amount_excl_vat(self) -> Decimal:
        return self.retail.excl_vat

    @property
    def incl_vat(self) -> Decimal:
        return self.totals.incl_vat


def _hours(duration: timedelta) -> Decimal:
    return (Decimal(duration.total_seconds()) / SECONDS_PER_HOUR).quantize(FOUR_PLACES, ROUND_HALF_UP)


def session_cdr(
    *, start: datetime, currency: str, energy_kwh: Decimal, charging: timedelta, parking: timedelta
) -> CdrRecord:
    """The CDR a session would produce: one charging period, then one of parking if the car stays."""
    periods = [ChargingPeriod(start_date_time=start, energy=energy_kwh, time=_hours(charging))]
    if parking > timedelta(0):
        periods.append(ChargingPeriod(start_date_time=start + charging, parking_time=_hours(parking)))
    return CdrRecord(
        start_date_time=start,
        end_date_time=start + charging + parking,
        currency=currency,
        charging_periods=tuple(periods),
    )


def price_estimate(
    *,
    connector: Connector,
    driver: Driver,
    energy_kwh: Decimal | None = None,
    duration: timedelta | None = None,
    parking: timedelta = timedelta(0),
    at: datetime | None = None,
) -> Estimate:
    """The driver's price of charging `energy_kwh` in `duration` (then parking `parking`) at `connector`,
    starting `at` (now). Missing energy or duration: the power class's defaults (BILLING_ESTIMATE_DEFAULTS)."""
    at = (at or timezone.now()).replace(microsecond=0)
    location = connector.evse.location
    power = cdr_power_class(connector.power_type, connector.max_electric_power)
    defaults = settings.BILLING_ESTIMATE_DEFAULTS[power]
    energy = Decimal(str(energy_kwh if energy_kwh is not None else defaults["energy_kwh"])).quantize(FOUR_PLACES)
    charging = duration if duration is not None else timedelta(minutes=int(str(defaults["minutes"])))
    plan = plan_in_force(driver=driver, at=at)
    if plan is None:
        raise EstimateError("The driver has no plan and there is no default plan.", reason="no_plan")
    terms = plan_terms(plan)
    facts = SessionFacts(
        energy_kwh=energy,
        charging_hours=_hours(charging),
        parking_hours=_hours(parking) if parking > timedelta(0) else ZERO,
        partner_id=location.partner_id,
        country=location.country.upper(),
        power_class=power,
    )
    held = [
        tariff_record(tariff)
        for tariff in Tariff.objects.filter(
            country_code=location.country_code,
            party_id=location.party_id,
            ocpi_id__in=connector.tariff_ids or [],
            removed_at__isnull=True,
        ).prefetch_related("elements__price_components")
    ]
    cost: EnginePrice | None = None
    problem = ""
    if held:
        record = session_cdr(start=at, currency=held[0].currency, energy_kwh=energy, charging=charging, parking=parking)
        try:
            cost = price_cdr(record, time_zone=location.time_zone or "UTC", available=held)
        except TariffInputError as exc:
            problem = f"the connector's tariff cannot price the session: {exc}"
    else:
        problem = f"no tariff of connector {connector} is held"
    try:
        retail = retail_price(
            terms,
            facts,
            # At the 4 places a CdrPrice stores it in: what the charge will read.
            cost_excl_vat=cost.total.excl_vat.quantize(FOUR_PLACES) if cost else None,
            cost_currency=cost.currency if cost else "",
        )
    except RetailError as exc:
        if problem:
            raise EstimateError(f"{exc} ({problem})", reason="no_tariff") from exc
        raise EstimateError(str(exc)) from exc
    try:
        rate = driver_vat_rate(driver.country)
    except RetailError as exc:
        raise EstimateError(str(exc)) from exc
    return Estimate(
        plan=plan,
        currency=retail.currency,
        power_class=power,
        facts=facts,
        start=at,
        cost=cost if retail.rule is None else None,
        retail=retail,
        vat_rate=rate,
        totals=line_totals(retail.excl_vat, rate),
    )


# --- the cost so far of a running session ----------------------------------------------------------------


def _session_record(session: ChargingSession, until: datetime) -> CdrRecord | None:
    """The session's charging periods so far as the CDR the engine prices (None: no periods yet, or periods the
    engine cannot read)."""
    if not session.charging_periods or until <= session.start_date_time:
        return None
    try:
        return cdr_from_ocpi(
            {
                "start_date_time": session.start_date_time.isoformat(),
                "end_date_time": until.isoformat(),
                "currency": session.currency,
                "charging_periods": session.charging_periods,
            }
        )
    except TariffInputError:
        return None


def session_price_so_far(*, session: ChargingSession) -> Estimate:
    """What the driver pays for the session as it stands at the CPO's last update, incl. VAT, with its breakdown.

    The charge will be the driver's plan (in force at the start) applied to our engine's price of the CDR; so
    here too: our engine prices the periods so far with the connector's tariff we hold. When we hold none, or
    it cannot price them, the CPO's own running `total_cost` stands in. Volumes are those the CPO reported, as
    of its `last_updated` (not now): the answer changes only when the session does, which keeps polling cheap.
    """
    driver = session.driver
    if driver is None:
        raise EstimateError("The session is not a driver's.")
    plan = plan_in_force(driver=driver, at=session.start_date_time)
    if plan is None:
        raise EstimateError("The driver has no plan and there is no default plan.")
    until = session.end_date_time or session.last_updated
    location = session.location
    connector = (
        Connector.objects.filter(evse__location=location, evse__uid=session.evse_uid, ocpi_id=session.connector_id)
        .only("power_type", "max_electric_power", "tariff_ids")
        .first()
        if location is not None
        else None
    )
    power = cdr_power_class(connector.power_type, connector.max_electric_power) if connector else AC
    record = _session_record(session, until)
    cost_excl_vat: Decimal | None = None
    engine: EnginePrice | None = None
    if record is not None and connector is not None and location is not None and connector.tariff_ids:
        held = [
            tariff_record(tariff)
            for tariff in Tariff.objects.filter(
                country_code=session.country_code,
                party_id=session.party_id,
                ocpi_id__in=connector.tariff_ids,
                removed_at__isnull=True,
            ).prefetch_related("elements__price_components")
        ]
        if held:
            try:
                engine = price_cdr(record, time_zone=location.time_zone or "UTC", available=held)
                cost_excl_vat = engine.total.excl_vat.quantize(FOUR_PLACES)
            except TariffInputError:
                engine = None
    if cost_excl_vat is None and session.total_cost_excl_vat is not None:
        cost_excl_vat = session.total_cost_excl_vat
    elapsed = _hours(until - session.start_date_time) if until > session.start_date_time else ZERO
    charging = sum((p.time for p in record.charging_periods), ZERO) if record else ZERO
    parking = sum((p.parking_time for p in record.charging_periods), ZERO) if record else ZERO
    facts = SessionFacts(
        energy_kwh=session.kwh,
        charging_hours=charging if charging or parking else elapsed,
        parking_hours=parking,
        partner_id=session.partner_id,
        country=(location.country if location else "").upper(),
        power_class=power,
    )
    try:
        retail = retail_price(plan_terms(plan), facts, cost_excl_vat=cost_excl_vat, cost_currency=session.currency)
        rate = driver_vat_rate(driver.country)
    except RetailError as exc:
        raise EstimateError(str(exc)) from exc
    return Estimate(
        plan=plan,
        currency=retail.currency,
        power_class=power,
        facts=facts,
        start=session.start_date_time,
        cost=engine if retail.rule is None else None,
        retail=retail,
        vat_rate=rate,
        totals=line_totals(retail.excl_vat, rate),
    )
