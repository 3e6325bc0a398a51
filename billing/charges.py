"""Writes of retail billing: which plan a driver is on, and the charge of each priced session.

A charge is written once, when its CDR is priced (`cdrs_price` calls `charges_create` for its batch, in its
transaction), with the plan in force when the session started: a plan change later never reprices it. A CPO's
credit CDR gives a negative charge that cancels the original's (same plan and VAT rate), so a credit after the
invoice becomes a credit line on the next one. The CDR is the charge's key: however often or concurrently a
batch is charged, each CDR has one charge. The drivers' `uninvoiced` balance is refreshed in the same
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.balances import driver_balances_refresh
from billing.models import CdrPrice, PlanSubscription, RetailPlan, SessionCharge
from billing.retail import (
    ZERO,
    PlanTerms,
    PriceRule,
    RetailError,
    RetailPrice,
    SessionFacts,
    power_class,
    retail_price,
    vat_rate,
)
from drivers.models import Driver
from emsp.lib.bulkupsert import bulk_upsert
from roaming.models import Cdr, Connector

logger = logging.getLogger(__name__)

#: What of a CDR a charge needs: not its raw JSON or periods (pricing a backlog of 100,000 CDRs charges them).
_CDR_FIELDS = (
    "pk",
    "partner_id",
    "driver_id",
    "location_id",
    "start_date_time",
    "end_date_time",
    "cdr_location",
    "currency",
    "total_energy",
    "total_time",
    "total_parking_time",
    "credit",
    "credit_for_id",
    "price__currency",
    "price__total_excl_vat",
)


class PlanError(ValueError):
    """The plan change is not possible (e.g. it would start before the current plan did)."""


# --- plans -----------------------------------------------------------------------------------------------


def plan_terms(plan: RetailPlan) -> PlanTerms:
    """A plan's terms for the retail functions. Reads `plan.price_rules` (prefetch it for many plans)."""
    return PlanTerms(
        currency=plan.currency,
        basis=plan.basis,
        markup_percent=plan.markup_percent,
        markup_per_kwh=plan.markup_per_kwh,
        session_fee=plan.session_fee,
        idle_fee_per_minute=plan.idle_fee_per_minute,
        idle_grace_minutes=plan.idle_grace_minutes,
        rules=tuple(
            PriceRule(
                price_per_kwh=rule.price_per_kwh,
                price_per_hour=rule.price_per_hour,
                partner_id=rule.partner_id,
                country=rule.country.upper(),
                power_class=rule.power_class,
            )
            for rule in sorted(plan.price_rules.all(), key=lambda r: r.pk)
        ),
    )


def plan_in_force(*, driver: Driver, at: datetime | None = None) -> RetailPlan | None:
    """The driver's plan at `at` (now): their spell then, else the default plan (None: there is none)."""
    at = at or timezone.now()
    spell = (
        PlanSubscription.objects.filter(driver=driver, valid_from__lte=at)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=at))
        .select_related("plan")
        .first()
    )
    return spell.plan if spell else RetailPlan.objects.filter(is_default=True).first()


def plan_subscribe(
    *, driver: Driver, plan: RetailPlan, at: datetime | None = None, by: AbstractBaseUser | None = None
) -> PlanSubscription:
    """Put the driver on `plan` from `at` (now): the current spell ends there, a new one starts.

    Sessions started before `at` keep the plan they were charged under. Choosing the plan one is on already
    changes nothing. Drivers' changes are serialised on the driver row, so two at once leave one current plan.
    """
    at = at or timezone.now()
    with transaction.atomic():
        Driver.objects.select_for_update().filter(pk=driver.pk).first()
        current = PlanSubscription.objects.filter(driver=driver, valid_until__isnull=True).first()
        if current is not None:
            if current.plan_id == plan.pk:
                return current
            if current.valid_from > at:
                raise PlanError(f"{driver} is on {current.plan} from {current.valid_from:%Y-%m-%d %H:%M}, after {at}.")
            if current.valid_from == at:  # changed in the same instant: the earlier choice never was in force
                current.plan, current.created_by_id = plan, by.pk if by else None
                current.save(update_fields=["plan", "created_by"])
                return current
            current.valid_until = at
            current.save(update_fields=["valid_until"])
        return PlanSubscription.objects.create(
            driver=driver, plan=plan, valid_from=at, created_by_id=by.pk if by else None
        )


# --- charges ---------------------------------------------------------------------------------------------


def driver_vat_rate(country: str) -> Decimal:
    """The VAT rate (percent) of the driver's country, from BILLING_VAT_RATES."""
    return vat_rate(country, settings.BILLING_VAT_RATES)


def cdr_power_class(power_type: str, max_power_w: int | None) -> str:
    return power_class(power_type or "", max_power_w)


def _location_text(cdr_location: dict[str, Any]) -> str:
    parts = (cdr_location.get(key) for key in ("name", "address", "city"))
    return ", ".join(str(part) for part in parts if part)[:255]


def _spell_plan(spells: list[PlanSubscription], at: datetime) -> int | None:
    for spell in spells:
        if spell.valid_from <= at and (spell.valid_until is None or at < spell.valid_until):
            return spell.plan_id
    return None


def _max_powers(cdrs: list[dict[str, Any]]) -> dict[tuple[int, str, str], int | None]:
    """(location, EVSE uid, connector id) -> max power in W, for the DC sessions (AC needs no power)."""
    dc = [
        c for c in cdrs if c["location_id"] and str(c["cdr_location"].get("connector_power_type", "")).startswith("DC")
    ]
    if not dc:
        return {}
    rows = Connector.objects.filter(
        evse__location_id__in={c["location_id"] for c in dc},
        evse__uid__in={str(c["cdr_location"].get("evse_uid", "")) for c in dc},
    ).values_list("evse__location_id", "evse__uid", "ocpi_id", "max_electric_power")
    return {(location, evse, connector): power for location, evse, connector, power in rows}


def session_facts(cdr: dict[str, Any], max_power_w: int | None) -> SessionFacts:
    """A CDR's volumes as a plan reads them: the CPO's totals (total_time includes parking). `cdr` is a row of
    _CDR_FIELDS."""
    parking = cdr["total_parking_time"] or ZERO
    where = cdr["cdr_location"]
    return SessionFacts(
        energy_kwh=cdr["total_energy"],
        charging_hours=max(cdr["total_time"] - parking, ZERO),
        parking_hours=parking,
        partner_id=cdr["partner_id"],
        country=str(where.get("country", "")).upper(),
        power_class=cdr_power_class(str(where.get("connector_power_type", "")), max_power_w),
    )


def _charge(
    cdr: dict[str, Any], driver_id: int, plan: RetailPlan, terms: PlanTerms, facts: SessionFacts, rate: Decimal
) -> dict[str, Any]:
    """The charge's row (attnames), for bulk_upsert."""
    retail: RetailPrice = retail_price(
        terms,
        facts,
        cost_excl_vat=cdr["price__total_excl_vat"],
        cost_currency=cdr["price__currency"] or cdr["currency"],
    )
    return {
        "cdr_id": cdr["pk"],
        "driver_id": driver_id,
        "plan_id": plan.pk,
        "currency": retail.currency,
        "session_start": cdr["start_date_time"],
        "session_end": cdr["end_date_time"],
        "location": _location_text(cdr["cdr_location"]),
        "country": facts.country[:3],
        "power_class": facts.power_class,
        "energy_kwh": facts.energy_kwh,
        "charging_hours": facts.charging_hours,
        "parking_hours": facts.parking_hours,
        "amount_excl_vat": retail.excl_vat,
        "vat_rate": rate,
        "lines": retail.lines_json(),
        "credits_id": None,
        "invoice_id": None,
    }


def _negated_lines(lines: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {**line, "quantity": str(-Decimal(line["quantity"])), "amount": str(-Decimal(line["amount"]))} for line in lines
    ]


def _credit_charge(cdr: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """The original's charge, negated: same plan and VAT rate, so the two net to zero."""
    negated = ("energy_kwh", "charging_hours", "parking_hours", "amount_excl_vat")
    return {
        **original,
        **{name: -original[name] for name in negated},
        "cdr_id": cdr["pk"],
        "session_start": cdr["start_date_time"],
        "session_end": cdr["end_date_time"],
        "lines": _negated_lines(original["lines"]),
        "credits_id": original["cdr_id"],
        "invoice_id": None,
    }


_CHARGEABLE = (CdrPrice.Status.PRICED, CdrPrice.Status.CREDITED)
#: Written by bulk_upsert; created_at (auto_now_add) gets the time of writing there.
_CHARGE_COLUMNS = [f.attname for f in SessionCharge._meta.concrete_fields if f.name != "created_at"]


def charges_create(*, cdr_ids: Iterable[int]) -> int:
    """Write the charge of each of these CDRs that is priced, is a driver's and has none yet; answers how many
    it wrote (a concurrent batch may have written some of them first: the same charges). The originals of
    credit CDRs come along (a credit needs the charge it cancels).

    A few queries per batch, whatever its size. A CDR that cannot be charged (no plan, no VAT rate for the
    driver's country, a cost in another currency than the plan's) is logged and left without a charge.
    """
    ids = set(cdr_ids)
    if not ids:
        return 0
    with transaction.atomic():
        ids |= {pk for pk in Cdr.objects.filter(pk__in=ids, credit=True).values_list("credit_for_id", flat=True) if pk}
        existing = {row["cdr_id"]: row for row in SessionCharge.objects.filter(cdr_id__in=ids).values(*_CHARGE_COLUMNS)}
        # Rows, not model instances: this runs for every batch of a pricing backlog.
        cdrs = list(
            Cdr.objects.filter(
                Q(driver__isnull=False) | Q(credit=True), pk__in=ids - set(existing), price__status__in=_CHARGEABLE
            )
            .order_by("pk")
            .values(*_CDR_FIELDS)
        )
        if not cdrs:
            return 0
        driver_ids = {cdr["driver_id"] for cdr in cdrs if cdr["driver_id"]}
        spells: dict[int, list[PlanSubscription]] = {}
        for spell in PlanSubscription.objects.filter(driver_id__in=driver_ids).order_by("valid_from"):
            spells.setdefault(spell.driver_id, []).append(spell)
        plan_ids = {spell.plan_id for driver_spells in spells.values() for spell in driver_spells}
        plans = {
            plan.pk: plan
            for plan in RetailPlan.objects.filter(Q(pk__in=plan_ids) | Q(is_default=True)).prefetch_related(
                "price_rules"
            )
        }
        default = next((plan for plan in plans.values() if plan.is_default), None)
        terms = {pk: plan_terms(plan) for pk, plan in plans.items()}
        countries = dict(Driver.objects.filter(pk__in=driver_ids).values_list("pk", "country"))
        powers = _max_powers(cdrs)

        written: list[dict[str, Any]] = []
        no_plan: list[int] = []
        for cdr in cdrs:
            driver_id = cdr["driver_id"]
            if cdr["credit"] or driver_id is None:
                continue
            plan_id = _spell_plan(spells.get(driver_id, []), cdr["start_date_time"])
            plan = plans[plan_id] if plan_id is not None else default
            if plan is None:
                no_plan.append(cdr["pk"])
                continue
            where = cdr["cdr_location"]
            key = (cdr["location_id"] or 0, str(where.get("evse_uid", "")), str(where.get("connector_id", "")))
            try:
                rate = driver_vat_rate(countries[driver_id])
                charge = _charge(cdr, driver_id, plan, terms[plan.pk], session_facts(cdr, powers.get(key)), rate)
            except RetailError as exc:
                logger.warning("CDR %s not charged: %s", cdr["pk"], exc)
                continue
            written.append(charge)
            existing[cdr["pk"]] = charge
        if no_plan:
            logger.warning(
                "%d CDRs not charged (e.g. #%s): no plan in force and no default plan", len(no_plan), no_plan[0]
            )
        for cdr in cdrs:
            if cdr["credit"] and (original := existing.get(cdr["credit_for_id"] or 0)) is not None:
                written.append(_credit_charge(cdr, original))
        # ON CONFLICT DO NOTHING: a concurrent batch that charged the same CDR first wins, with the same charge.
        # By COPY on PostgreSQL: bulk_create sent the breakdowns as text arrays, escaped character by character
        # (it doubled the time of pricing a backlog).
        bulk_upsert(
            SessionCharge,
            written,
            unique_fields=["cdr_id"],
            update_fields=[],
        )
        driver_balances_refresh(driver_ids={charge["driver_id"] for charge in written})
    return len(written)
