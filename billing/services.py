"""Writes of billing: pricing CDRs as they arrive, opening and deciding disputes.

Pricing runs in Celery, never in the CPO's request: a new CDR is priced by `billing.price_cdrs` after the
commit that stored it, and the same task drains whatever is left (`cdrs_price_pending`) every minute.

Which tariff: the tariffs inside the CDR (as they were when the session started) win; otherwise our copies
of the tariffs its charging periods name (`Cdr.linked_tariffs`). A CDR we cannot price yet gets an
UNPRICED price saying what it waits for (a tariff, its location, the CDR it credits) and is priced again when
that arrives. Restriction times are the Location's local time (`Location.time_zone`, else UTC); a CDR whose
tariff reads the local clock waits for its location, one whose tariff does not is priced in UTC at once.

Each priced CDR of a driver gets its retail charge in the same transaction (`billing.charges`).

A credit CDR is priced as the negative of our price of the CDR it credits (so the two net to zero, as the
CPO's do), and that price becomes CREDITED with its open dispute closed. The credit itself is only checked
for cancelling what the CPO billed; re-pricing its own data would just repeat the original's comparison.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Prefetch
from django.utils import timezone

from billing.charges import charges_create
from billing.models import CdrPrice, Dispute, DisputeEvent
from billing.reconciliation import (
    Difference,
    Tolerance,
    amount_at_stake,
    cost_differences,
    credit_differences,
    volume_differences,
)
from billing.records import cdr_record, needs_local_time, tariff_record
from billing.selectors import cdr_prices_arrived
from billing.tariffs import Cdr as CdrRecord
from billing.tariffs import CdrPrice as PriceRecord
from billing.tariffs import Price, PriceLine, TariffInputError, price_cdr, select_tariff
from billing.tariffs import Tariff as TariffRecord
from emsp.lib.bulkupsert import bulk_upsert
from roaming.models import Cdr, Location, Tariff
from roaming.services.cdrs import cdrs_link

#: Columns written when a CDR is priced, and those rewritten when it is priced again.
_PRICE_COLUMNS = list(CdrPrice._meta.concrete_fields)
_PRICE_FIELDS = [f.attname for f in _PRICE_COLUMNS if f.name != "cdr"]
_CATEGORIES = ("total", "energy", "time", "parking", "fixed", "reservation")
_VOLUMES = ("energy_kwh", "time_hours", "parking_hours", "reservation_hours")


@dataclass
class PricingResult:
    priced: int = 0
    unpriced: int = 0
    credited: int = 0
    disputes_opened: int = 0
    charged: int = 0  # the drivers' charges written (billing.charges)


# --- pricing ---------------------------------------------------------------------------------------------


def cdrs_price(*, cdr_ids: Iterable[int]) -> PricingResult:
    """Price (or price again) these CDRs and reconcile them with the CPO's figures, in bulk.

    The credits of these CDRs come along (a credit that waited for its original's price). Idempotent: a
    CDR priced twice gets the same row, and a dispute already open is updated, not duplicated.
    """
    ids = set(cdr_ids)
    result = PricingResult()
    if not ids:
        return result
    now = timezone.now()
    tolerance = Tolerance.from_settings()
    with transaction.atomic():
        ids |= set(Cdr.objects.filter(credit_for_id__in=ids).values_list("pk", flat=True))
        waited = list(
            CdrPrice.objects.filter(cdr_id__in=ids, status=CdrPrice.Status.UNPRICED).values_list("cdr_id", flat=True)
        )
        if waited:
            cdrs_link(cdr_ids=waited)  # what they waited for may have arrived since
        cdrs = list(
            Cdr.objects.filter(pk__in=ids)
            .defer("tariffs", "charging_periods")  # read from `raw`, as sent: decoding them again is waste
            .select_related("location", "credit_for")
            .prefetch_related(
                Prefetch("linked_tariffs", queryset=Tariff.objects.prefetch_related("elements__price_components"))
            )
            .order_by("pk")
        )
        held: dict[int, TariffRecord | TariffInputError] = {}
        prices: dict[int, CdrPrice] = {}
        records: dict[int, CdrRecord] = {}
        for cdr in cdrs:
            if not cdr.credit:
                prices[cdr.pk] = _priced(cdr, held, records, now)

        credits = [cdr for cdr in cdrs if cdr.credit]
        stored = {
            p.cdr_id: p for p in CdrPrice.objects.filter(cdr_id__in={c.credit_for_id for c in credits} - set(prices))
        }
        credited: dict[int, Cdr] = {}  # original pk -> its credit
        for credit in credits:
            original = prices.get(credit.credit_for_id or 0) or stored.get(credit.credit_for_id or 0)
            prices[credit.pk] = _credit_price(credit, original, now)
            if original is not None and original.status not in (CdrPrice.Status.UNPRICED, CdrPrice.Status.PENDING):
                original.status = CdrPrice.Status.CREDITED
                credited[original.cdr_id] = credit
        if stored_credited := [pk for pk in credited if pk in stored]:
            CdrPrice.objects.filter(cdr_id__in=stored_credited).update(status=CdrPrice.Status.CREDITED)

        # By COPY on PostgreSQL: bulk_create sent the breakdowns as text arrays, escaped character by character
        # (a third of a batch's time).
        bulk_upsert(
            CdrPrice,
            [{f.attname: getattr(price, f.attname) for f in _PRICE_COLUMNS} for price in prices.values()],
            unique_fields=["cdr_id"],
            update_fields=_PRICE_FIELDS,
        )
        by_pk = {cdr.pk: cdr for cdr in cdrs}
        result.disputes_opened = _reconcile(by_pk, prices, records, credited, tolerance, now)
        result.charged = charges_create(
            cdr_ids=[pk for pk, price in prices.items() if price.status != CdrPrice.Status.UNPRICED]
        )
    for price in prices.values():
        if price.status == CdrPrice.Status.UNPRICED:
            result.unpriced += 1
        else:
            result.priced += 1
    result.credited = len(credited)
    return result


def _unpriced(cdr: Cdr, now: datetime, reason: str, waiting: str = "", waiting_id: str = "") -> CdrPrice:
    return CdrPrice(
        cdr=cdr,
        status=CdrPrice.Status.UNPRICED,
        reason=reason[:255],
        waiting_for=waiting,
        waiting_id=waiting_id[:39],
        currency=cdr.currency,
        lines=[],
        warnings=[],
        priced_at=now,
    )


def _held(tariffs: Iterable[Tariff], cache: dict[int, TariffRecord | TariffInputError]) -> list[TariffRecord]:
    """Our copies as engine records, each mapped once per batch; a held tariff we cannot read raises."""
    records = []
    for tariff in tariffs:
        if tariff.pk not in cache:
            try:
                cache[tariff.pk] = tariff_record(tariff)
            except TariffInputError as exc:
                cache[tariff.pk] = TariffInputError(f"tariff {tariff}", str(exc))
        record = cache[tariff.pk]
        if isinstance(record, TariffInputError):
            raise record
        records.append(record)
    return records


def _priced(
    cdr: Cdr, cache: dict[int, TariffRecord | TariffInputError], records: dict[int, CdrRecord], now: datetime
) -> CdrPrice:
    party = f"{cdr.country_code}/{cdr.party_id}"
    try:
        record = cdr_record(cdr)
        held = _held(cdr.linked_tariffs.all(), cache)
    except TariffInputError as exc:
        return _unpriced(cdr, now, f"cannot read: {exc}")
    records[cdr.pk] = record
    known = {t.id for t in record.tariffs} | {t.id for t in held}
    named = dict.fromkeys(p.tariff_id for p in record.charging_periods if p.tariff_id)
    if missing := [tariff_id for tariff_id in named if tariff_id not in known]:
        return _unpriced(cdr, now, f"tariff {party}/{missing[0]} not held yet", CdrPrice.Waiting.TARIFF, missing[0])
    if not record.tariffs and not held:
        return _unpriced(cdr, now, "the CDR carries no tariff and its charging periods name none we hold")
    location: Location | None = cdr.location
    if location is None and needs_local_time([*record.tariffs, *held]):
        location_id = str(cdr.cdr_location.get("id", ""))
        return _unpriced(
            cdr,
            now,
            f"location {party}/{location_id} not held yet (its time zone decides the tariff's time restrictions)",
            CdrPrice.Waiting.LOCATION,
            location_id,
        )
    try:
        engine = price_cdr(record, time_zone=(location.time_zone if location else "") or "UTC", available=held)
        used = select_tariff(record.charging_periods[0].tariff_id, record.tariffs, held, at=record.start_date_time)
    except TariffInputError as exc:
        return _unpriced(cdr, now, str(exc))
    from_cdr = any(t is used for t in record.tariffs)
    return CdrPrice(
        cdr=cdr,
        status=CdrPrice.Status.PRICED,
        currency=engine.currency,
        tariff=None if from_cdr else next((t for t in cdr.linked_tariffs.all() if t.ocpi_id == used.id), None),
        tariff_ocpi_id=used.id,
        tariff_last_updated=used.last_updated,
        source=CdrPrice.Source.CDR if from_cdr else CdrPrice.Source.HELD,
        lines=[_line(line) for line in engine.lines],
        warnings=list(engine.warnings),
        priced_at=now,
        **_amounts(engine),
    )


def _amounts(engine: PriceRecord) -> dict[str, Decimal | None]:
    amounts: dict[str, Decimal | None] = {}
    for name in _CATEGORIES:
        price: Price = getattr(engine, name)
        # Prices incl. taxes at a rate the tariff does not give (2.3.0 tax_included YES): no excl. figure.
        amounts[f"{name}_excl_vat"] = price.excl_vat if engine.excl_vat_known else None
        amounts[f"{name}_incl_vat"] = price.incl_vat
    for name in _VOLUMES:
        amounts[name] = getattr(engine, name)
    return amounts


def _line(line: PriceLine) -> dict[str, Any]:
    """A breakdown line as JSON: amounts and volumes as strings (exact), times as ISO 8601 UTC."""
    return {
        "kind": str(line.kind),
        "dimension": str(line.dimension) if line.dimension else None,
        "reservation": line.reservation,
        "period": line.period,
        "tariff_id": line.tariff_id,
        "element": line.element,
        "start": line.start.isoformat(),
        "end": line.end.isoformat(),
        "volume": str(line.volume),
        "unit_price": str(line.unit_price),
        "vat": None if line.vat is None else str(line.vat),
        "step_size": line.step_size,
        "excl_vat": str(line.excl_vat),
        "incl_vat": None if line.incl_vat is None else str(line.incl_vat),
    }


def _negated(value: Any) -> Any:
    return None if value is None else -value


def _credit_price(credit: Cdr, original: CdrPrice | None, now: datetime) -> CdrPrice:
    """The credit CDR's price: our price of the original, negated (see the module docstring)."""
    if credit.credit_for is None:
        return _unpriced(
            credit,
            now,
            f"credits CDR {credit.country_code}/{credit.party_id}/{credit.credit_reference_id}, not held yet",
            CdrPrice.Waiting.CDR,
            credit.credit_reference_id,
        )
    if original is None or original.status in (CdrPrice.Status.UNPRICED, CdrPrice.Status.PENDING):
        return _unpriced(credit, now, f"credits CDR {credit.credit_for}, which is not priced yet")
    amounts = {
        name: _negated(getattr(original, name))
        for name in (*(f"{c}_{v}" for c in _CATEGORIES for v in ("excl_vat", "incl_vat")), *_VOLUMES)
    }
    lines = [
        {**line, "excl_vat": str(-Decimal(line["excl_vat"])),
         "incl_vat": None if line["incl_vat"] is None else str(-Decimal(line["incl_vat"]))}
        for line in original.lines
    ]  # fmt: skip
    return CdrPrice(
        cdr=credit,
        status=CdrPrice.Status.PRICED,
        currency=original.currency,
        tariff_id=original.tariff_id,
        tariff_ocpi_id=original.tariff_ocpi_id,
        tariff_last_updated=original.tariff_last_updated,
        source=original.source,
        lines=lines,
        warnings=[],
        priced_at=now,
        **amounts,
    )


# --- the backlog -----------------------------------------------------------------------------------------


def cdrs_price_pending(*, limit: int) -> int:
    """Price the next `limit` CDRs of the backlog; answers how many it took (0: nothing left).

    The backlog is the PENDING prices written with their CDRs (`cdr_pending`), then the unpriced CDRs whose
    tariff, location or credited CDR has arrived. On PostgreSQL a batch is claimed with SELECT ... FOR UPDATE
    SKIP LOCKED, so several workers share a backlog without pricing a CDR twice (a row another worker priced
    meanwhile no longer matches when locked); the claim holds until the prices are committed.
    """
    with transaction.atomic():
        ids: list[int] = []
        for backlog in (CdrPrice.objects.filter(status=CdrPrice.Status.PENDING), cdr_prices_arrived()):
            claim = backlog.order_by("cdr_id").values_list("cdr_id", flat=True)
            if connection.features.has_select_for_update_skip_locked:
                claim = claim.select_for_update(skip_locked=True, of=("self",))
            ids += claim[: limit - len(ids)]
            if len(ids) >= limit:
                break
        if ids:
            cdrs_price(cdr_ids=ids)
    return len(ids)


def cdrs_waiting_for(*, kind: str, keys: Iterable[tuple[str, str, str]]) -> list[int]:
    """The unpriced CDRs waiting for these tariffs or locations (small: a partial index).

    Asked by id alone, the party checked here: an OR of one condition per key cost Django 1.9 s to build for
    each page of 1,000 locations of a pull, more than writing the page."""
    wanted = set(keys)
    if not wanted:
        return []
    waiting = CdrPrice.objects.filter(
        status=CdrPrice.Status.UNPRICED, waiting_for=kind, waiting_id__in={ocpi_id for _, _, ocpi_id in wanted}
    ).values_list("cdr_id", "cdr__country_code", "cdr__party_id", "waiting_id")
    return [pk for pk, country_code, party_id, ocpi_id in waiting if (country_code, party_id, ocpi_id) in wanted]


# --- disputes --------------------------------------------------------------------------------------------


def _event(dispute: Dispute, at: datetime, note: str, user: AbstractBaseUser | None = None) -> DisputeEvent:
    return DisputeEvent(dispute=dispute, status=dispute.status, note=note, user_id=user.pk if user else None, at=at)


def _reconcile(
    cdrs: dict[int, Cdr],
    prices: dict[int, CdrPrice],
    records: dict[int, CdrRecord],
    credited: dict[int, Cdr],
    tolerance: Tolerance,
    now: datetime,
) -> int:
    """Open, update or close the disputes of a priced batch; answers how many were opened."""
    found: dict[int, tuple[list[Difference], Decimal]] = {}
    for pk, price in prices.items():
        cdr = cdrs.get(pk)
        if cdr is None or price.status != CdrPrice.Status.PRICED:
            continue
        if cdr.credit:
            assert cdr.credit_for is not None
            differences = credit_differences(cdr, cdr.credit_for, tolerance)
            stake = Decimal(cdr.total_cost_excl_vat) + Decimal(cdr.credit_for.total_cost_excl_vat)
        else:
            differences = cost_differences(cdr, price, tolerance) + volume_differences(records[pk])
            stake = amount_at_stake(cdr, price)
        found[pk] = (differences, stake)

    disputes: dict[int, list[Dispute]] = {}
    for dispute in Dispute.objects.filter(cdr_id__in=[*found, *credited]).order_by("pk"):
        disputes.setdefault(dispute.cdr_id, []).append(dispute)
    new: list[Dispute] = []
    events: list[DisputeEvent] = []
    for pk, credit in credited.items():
        for dispute in disputes.get(pk, []):
            if dispute.status == Dispute.Status.OPEN:
                note = f"Closed automatically: the CPO credited the CDR (credit CDR {credit})."
                _close(dispute, Dispute.Status.RESOLVED, note, None, now)
                events.append(_event(dispute, now, note))
    for pk, (differences, stake) in found.items():
        if pk in credited:
            continue
        existing = disputes.get(pk, [])
        open_ = next((d for d in existing if d.status == Dispute.Status.OPEN), None)
        if open_ is not None:
            if not differences:
                note = "Closed automatically: priced again, no difference left."
                _close(open_, Dispute.Status.RESOLVED, note, None, now)
                events.append(_event(open_, now, note))
            elif differences != open_.differences:
                open_.differences, open_.amount_at_stake = differences, stake
                open_.save(update_fields=["differences", "amount_at_stake"])
                events.append(_event(open_, now, "Priced again: differences changed."))
        elif differences and not any(d.differences == differences for d in existing):
            cdr = cdrs[pk]
            new.append(
                Dispute(
                    cdr=cdr,
                    partner_id=cdr.partner_id,
                    currency=cdr.currency,
                    amount_at_stake=stake,
                    differences=differences,
                    opened_at=now,
                )
            )
    Dispute.objects.bulk_create(new)
    events.extend(_event(dispute, now, "Opened: " + _summary(dispute.differences)) for dispute in new)
    DisputeEvent.objects.bulk_create(events)
    return len(new)


def _summary(differences: list[Difference]) -> str:
    return "; ".join(f"{d['dimension']} CPO {d['cpo']}, ours {d['ours']}" for d in differences)


def _close(dispute: Dispute, status: str, note: str, user: AbstractBaseUser | None, at: datetime) -> None:
    dispute.status = status
    dispute.note = note
    dispute.decided_by_id = user.pk if user else None
    dispute.decided_at = at
    dispute.save(update_fields=["status", "note", "decided_by", "decided_at"])


class DecisionError(Exception):
    """The decision is not allowed (e.g. resolving without saying why)."""


def dispute_decide(*, dispute: Dispute, outcome: str, user: AbstractBaseUser, note: str = "") -> Dispute:
    """Decide a dispute: accept the CPO's price, accept ours, or resolve it otherwise (with a note).

    A decided dispute can be decided again (a mistake, new evidence): the dispute shows the latest decision
    and its events keep every one, with who and when.
    """
    if outcome not in (Dispute.Status.CPO_ACCEPTED, Dispute.Status.OURS_ACCEPTED, Dispute.Status.RESOLVED):
        raise DecisionError(f"Not a decision: {outcome!r}.")
    if outcome == Dispute.Status.RESOLVED and not note.strip():
        raise DecisionError("Resolving a dispute needs a note saying how.")
    now = timezone.now()
    with transaction.atomic():
        locked = Dispute.objects.select_for_update().get(pk=dispute.pk)
        _close(locked, outcome, note, user, now)
        DisputeEvent.objects.create(dispute=locked, status=outcome, note=note, user_id=user.pk, at=now)
    return locked
