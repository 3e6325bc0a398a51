"""Simulated charging: sessions that draw power, fill up, park, stop and end in a priced CDR.

A car charges at a constant power (the lower of connector and car) until it has the energy it
wanted, then stands idle (PARKING_TIME) until stopped. Charging periods are cut at every moment a
different tariff component could apply (time-of-day and day boundaries, duration and kWh
thresholds, charging → parking) and at every progress step, so each pushed period is final.
Timestamps are whole seconds; energy is whole Wh.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from cposim import protocol
from cposim.clock import Clock
from cposim.network import Network, Overlay, find_connector, find_evse, render_location
from cposim.pricing import Breakdown, dec, price_charging_periods
from cposim.pushes import Pusher
from cposim.state import Store
from cposim.tariffs import TariffBook

log = logging.getLogger("cposim")

OCCUPIED = ("CHARGING", "BLOCKED", "RESERVED")
HOUR = Decimal(3600)


PROFILE_TYPES = ("CHEAP", "FAST", "GREEN", "REGULAR")


class PreferencesNotTaken(Exception):
    """No charging preferences for this session: unknown here, or its EVSE is not CHARGING_PREFERENCES_CAPABLE."""


class ChargingError(Exception):
    """A session cannot start or stop; `result` is the matching CommandResultType."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Run:
    """The moving parts of an active session (persisted so a restart can carry on)."""

    session_id: str
    location_index: int
    evse_uid: str
    connector_id: str
    tariff_id: str | None
    time_zone: str
    power_w: int
    need_wh: int
    started: int
    progressed: int
    energy_wh: int = 0
    periods: list[dict[str, Any]] = field(default_factory=list)
    pushed: int = 0
    stop_at: int | None = None
    cdr_location: dict[str, Any] = field(default_factory=dict)
    tariff: dict[str, Any] | None = None

    @property
    def full_at(self) -> int:
        return self.started + -(-self.need_wh * 3600 // self.power_w)

    def energy_at(self, moment: int) -> int:
        return min(self.need_wh, self.power_w * max(moment - self.started, 0) // 3600)


def hours(seconds: int) -> Decimal:
    return protocol.money(Decimal(seconds) / HOUR)


def connector_power(connector: dict[str, Any]) -> int:
    if connector.get("max_electric_power"):
        return int(connector["max_electric_power"])
    phases = 3 if connector["power_type"] == "AC_3_PHASE" else 1
    return int(connector["max_voltage"]) * int(connector["max_amperage"]) * phases


def switch_points(tariff: dict[str, Any] | None, run: Run, start: int, end: int) -> set[int]:
    """Moments in (start, end) at which another tariff element could start to apply."""
    if not tariff:
        return set()
    zone = ZoneInfo(run.time_zone)
    points: set[int] = set()
    clock_times: set[str] = set()
    for element in tariff.get("elements", []):
        restrictions = element.get("restrictions") or {}
        clock_times.update(restrictions[k] for k in ("start_time", "end_time") if k in restrictions)
        if any(k in restrictions for k in ("day_of_week", "start_date", "end_date")):
            clock_times.add("00:00")
        for key in ("min_duration", "max_duration"):
            if key in restrictions:
                points.add(run.started + int(dec(restrictions[key])))
        for key in ("min_kwh", "max_kwh"):
            if key in restrictions:
                wh = int(dec(restrictions[key]) * 1000)
                if wh < run.need_wh:
                    points.add(run.started + -(-wh * 3600 // run.power_w))
    if clock_times:
        day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end, zone).date()
        while day <= last:
            for text in clock_times:
                hour, minute = (int(part) for part in text.split(":"))
                local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                points.add(int(local.timestamp()))
            day += timedelta(days=1)
    return {p for p in points if start < p < end}


class Charging:
    """Starts, progresses and stops sessions and pushes what changes to the EMSP."""

    def __init__(
        self,
        *,
        seed: int,
        network: Network,
        overlay: Overlay,
        tariffs: TariffBook,
        store: Store,
        clock: Clock,
        pusher: Pusher,
        wrong_total_share: float = 0.0,
        session_id_prefix: str = "S",
    ) -> None:
        self.seed = seed
        self.session_id_prefix = session_id_prefix
        self.network = network
        self.overlay = overlay
        self.tariffs = tariffs
        self.store = store
        self.clock = clock
        self.pusher = pusher
        self.wrong_total_share = wrong_total_share
        self.lock = threading.RLock()
        self.runs: dict[str, Run] = {key: Run(**body) for key, body in store.items("run")}

    def cards_charging(self) -> set[tuple[str, str]]:
        """(uid in upper case, type) of every token in an active session: a driver with one of these cards is
        at a charger already (OCPI uids are case-insensitive)."""
        with self.lock:
            sessions = (self.store.get("session", session_id) for session_id in self.runs)
            return {(s["cdr_token"]["uid"].upper(), s["cdr_token"]["type"]) for s in sessions if s is not None}

    # EVSE status --------------------------------------------------------------------------

    def set_evse_status(self, index: int, evse_uid: str, status: str, *, push: bool = True) -> None:
        moment = self.clock.epoch()
        self.overlay.set_evse(index, evse_uid, status=status, updated=moment)
        if push:
            location_id = self.network.location_id(index)
            self.pusher.location_patch(
                (location_id, evse_uid), {"status": status, "last_updated": protocol.format_epoch(moment)}
            )

    # session lifecycle --------------------------------------------------------------------

    def start(
        self,
        *,
        index: int,
        evse_uid: str,
        cdr_token: dict[str, Any],
        auth_method: str,
        connector_id: str | None = None,
        authorization_reference: str | None = None,
        allow_reserved: bool = False,
        stop_at: int | None = None,
    ) -> dict[str, Any]:
        """Start charging: Session PUT as PENDING, then ACTIVE, then the EVSE goes CHARGING."""
        with self.lock:
            location = render_location(self.network, self.overlay, index)
            evse = find_evse(location, evse_uid)
            if evse is None:
                raise ChargingError("FAILED", f"unknown EVSE {evse_uid}")
            status = evse["status"]
            if status != "AVAILABLE" and not (allow_reserved and status == "RESERVED"):
                result = "EVSE_OCCUPIED" if status in OCCUPIED else "EVSE_INOPERATIVE"
                raise ChargingError(result, f"EVSE {evse_uid} is {status}")
            connector = (
                find_connector(evse, connector_id)
                if connector_id
                else (evse["connectors"][0] if evse["connectors"] else None)
            )
            if connector is None:
                raise ChargingError("FAILED", f"unknown connector {connector_id}")
            tariff_id = connector["tariff_ids"][0] if connector.get("tariff_ids") else None
            found = self.tariffs.get(tariff_id) if tariff_id else None
            # Priced by the tariff as the EMSP sees it in the OCPI version spoken.
            tariff = self.pusher.wire.pricing_tariff(found) if found else None
            session_id = f"{self.session_id_prefix}{self.store.count('session') + 1:06d}"
            rng = random.Random(f"session:{self.seed}:{session_id}")
            car_power = rng.choice(
                (50_000, 100_000, 150_000, 250_000)
                if connector["power_type"] == "DC"
                else (7_400, 11_000, 11_000, 22_000)
            )
            now = self.clock.epoch()
            run = Run(
                session_id=session_id,
                location_index=index,
                evse_uid=evse["uid"],
                connector_id=connector["id"],
                tariff_id=tariff_id if tariff else None,
                time_zone=location["time_zone"],
                power_w=min(connector_power(connector), car_power),
                need_wh=rng.randrange(5_000, 60_001),
                started=now,
                progressed=now,
                stop_at=stop_at,
                cdr_location={
                    "id": location["id"],
                    "name": location.get("name"),
                    "address": location["address"],
                    "city": location["city"],
                    "postal_code": location.get("postal_code"),
                    "country": location["country"],
                    "coordinates": location["coordinates"],
                    "evse_uid": evse["uid"],
                    "evse_id": evse.get("evse_id"),
                    "connector_id": connector["id"],
                    "connector_standard": connector["standard"],
                    "connector_format": connector["format"],
                    "connector_power_type": connector["power_type"],
                },
                tariff=tariff,
            )
            session: dict[str, Any] = {
                "country_code": self.network.country_code,
                "party_id": self.network.party_id,
                "id": session_id,
                "start_date_time": protocol.format_epoch(now),
                "kwh": Decimal(0),
                "cdr_token": {k: cdr_token[k] for k in ("country_code", "party_id", "uid", "type", "contract_id")},
                "auth_method": auth_method,
                "location_id": location["id"],
                "evse_uid": evse["uid"],
                "connector_id": connector["id"],
                "currency": "EUR",
                "charging_periods": [],
                "status": "PENDING",
                "last_updated": protocol.format_epoch(now),
            }
            if authorization_reference:
                session["authorization_reference"] = authorization_reference
            self.runs[session_id] = run
            self._save(run, session)
            log.info(
                "session %s PENDING at %s/%s for token %s", session_id, location["id"], evse["uid"], cdr_token["uid"]
            )
            self.pusher.session(dict(session))
            session = {**session, "status": "ACTIVE"}
            self.store.put("session", session_id, session)
            self.pusher.session(dict(session))
            log.info("session %s ACTIVE at %s W", session_id, run.power_w)
            self.set_evse_status(index, evse["uid"], "CHARGING")
            return session

    def set_preferences(self, session_id: str, preferences: dict[str, Any]) -> str:
        """The ChargingPreferencesResponse to the driver's wishes (already checked for shape); accepted ones are
        kept. This CPO has no energy-mix signal (GREEN), needs a departure time to charge CHEAP, and says
        NOT_POSSIBLE when the energy needed cannot flow before departure at this session's power."""
        with self.lock:
            if self.store.get("session", session_id) is None:
                raise PreferencesNotTaken(f"Unknown session {session_id}")
            run = self.runs.get(session_id)
            if run is None:
                return "NOT_POSSIBLE"  # the session has ended
            evse = find_evse(render_location(self.network, self.overlay, run.location_index), run.evse_uid)
            if evse is None or "CHARGING_PREFERENCES_CAPABLE" not in evse.get("capabilities", []):
                raise PreferencesNotTaken(f"EVSE {run.evse_uid} does not take charging preferences")
            profile = preferences["profile_type"]
            if profile not in PROFILE_TYPES or profile == "GREEN":
                return "PROFILE_TYPE_NOT_SUPPORTED"
            departure = preferences.get("departure_time")
            if profile == "CHEAP" and not departure:
                return "DEPARTURE_REQUIRED"
            if departure:
                now = self.clock.epoch()
                self._progress(run, now)
                seconds_left = int(protocol.parse_dt(departure).timestamp()) - now
                need = preferences.get("energy_need")
                need_wh = int(dec(need) * 1000) if need is not None else 0
                if seconds_left <= 0 or run.energy_wh + run.power_w * seconds_left // 3600 < need_wh:
                    return "NOT_POSSIBLE"
            self.store.put("preferences", session_id, dict(preferences))
            log.info("session %s: charging preferences %s accepted", session_id, profile)
            return "ACCEPTED"

    def _save(self, run: Run, session: dict[str, Any]) -> None:
        self.store.put("session", run.session_id, session)
        self.store.put("run", run.session_id, asdict(run))

    def _progress(self, run: Run, until: int) -> None:
        """Append the charging periods from the last step up to `until`."""
        if until <= run.progressed:
            return
        full_at = run.full_at
        cuts = switch_points(run.tariff, run, run.progressed, until)
        if run.progressed < full_at < until:
            cuts.add(full_at)
        bounds = [run.progressed, *sorted(cuts), until]
        for begin, end in pairwise(bounds):
            if begin < full_at:
                energy = run.energy_at(end) - run.energy_at(begin)
                dimensions = [
                    {"type": "ENERGY", "volume": Decimal(energy) / 1000},
                    {"type": "TIME", "volume": hours(end - begin)},
                ]
            else:
                dimensions = [{"type": "PARKING_TIME", "volume": hours(end - begin)}]
            period: dict[str, Any] = {"start_date_time": protocol.format_epoch(begin), "dimensions": dimensions}
            if run.tariff_id:
                period["tariff_id"] = run.tariff_id
            run.periods.append(period)
        run.energy_wh = run.energy_at(until)
        run.progressed = until

    def price(self, run: Run, until: int) -> Breakdown:
        end = datetime.fromtimestamp(until, ZoneInfo("UTC"))
        return price_charging_periods([run.tariff] if run.tariff else [], run.periods, end, time_zone=run.time_zone)

    def progress(self, session_id: str) -> dict[str, Any] | None:
        """Bring one session up to now and PATCH the new periods; returns the PATCH body."""
        with self.lock:
            run = self.runs.get(session_id)
            if run is None:
                return None
            now = self.clock.epoch()
            self._progress(run, now)
            if run.pushed >= len(run.periods):
                return None
            session = dict(self.store.get("session", session_id))
            session["kwh"] = Decimal(run.energy_wh) / 1000
            session["charging_periods"] = list(run.periods)
            session["total_cost"] = self.price(run, now).total.as_ocpi()
            session["last_updated"] = protocol.format_epoch(now)
            patch = {
                "kwh": session["kwh"],
                "charging_periods": run.periods[run.pushed :],
                "total_cost": session["total_cost"],
                "last_updated": session["last_updated"],
            }
            run.pushed = len(run.periods)
            self._save(run, session)
            self.pusher.session_patch(session, patch)
            return patch

    def progress_all(self) -> None:
        for session_id in list(self.runs):
            self.progress(session_id)

    def stop(self, session_id: str) -> dict[str, Any]:
        """Stop charging: final Session PATCH (COMPLETED), EVSE back to AVAILABLE, CDR POST."""
        with self.lock:
            run = self.runs.get(session_id)
            if run is None:
                raise ChargingError("REJECTED", f"session {session_id} is not active")
            now = self.clock.epoch()
            self._progress(run, now)
            if not run.periods:
                run.periods.append(
                    {
                        "start_date_time": protocol.format_epoch(run.started),
                        "dimensions": [
                            {"type": "ENERGY", "volume": Decimal(0)},
                            {"type": "TIME", "volume": Decimal(0)},
                        ],
                        **({"tariff_id": run.tariff_id} if run.tariff_id else {}),
                    }
                )
            breakdown = self.price(run, now)
            session = dict(self.store.get("session", session_id))
            session.update(
                status="COMPLETED",
                end_date_time=protocol.format_epoch(now),
                kwh=Decimal(run.energy_wh) / 1000,
                charging_periods=list(run.periods),
                total_cost=breakdown.total.as_ocpi(),
                last_updated=protocol.format_epoch(now),
            )
            patch = {
                "status": "COMPLETED",
                "end_date_time": session["end_date_time"],
                "kwh": session["kwh"],
                "charging_periods": run.periods[run.pushed :],
                "total_cost": session["total_cost"],
                "last_updated": session["last_updated"],
            }
            run.pushed = len(run.periods)
            self.store.put("session", session_id, session)
            del self.runs[session_id]
            self.store.delete("run", session_id)
            log.info("session %s COMPLETED, %s kWh", session_id, session["kwh"])
            self.pusher.session_patch(session, patch)
            self.set_evse_status(run.location_index, run.evse_uid, "AVAILABLE")
            cdr = self._cdr(run, session, breakdown, now)
            call = self.pusher.cdr(cdr)
            meta = dict(self.store.get("cdr_meta", cdr["id"]))
            if call is not None:
                meta["emsp_location"] = call.headers.get("Location")
                meta["posted"] = call.ok
                self.store.put("cdr_meta", cdr["id"], meta)
            return cdr

    def _cdr(self, run: Run, session: dict[str, Any], breakdown: Breakdown, now: int) -> dict[str, Any]:
        cdr_id = f"CDR-{run.session_id}"
        parking = sum(
            (dec(d["volume"]) for p in run.periods for d in p["dimensions"] if d["type"] == "PARKING_TIME"),
            Decimal(0),
        )
        correct = breakdown.total.as_ocpi()
        total = dict(correct)
        rng = random.Random(f"wrong-total:{self.seed}:{cdr_id}")
        wrong = rng.random() < self.wrong_total_share
        if wrong:
            delta = Decimal(rng.randint(10, 250)) / 100
            total = {"excl_vat": correct["excl_vat"] + delta, "incl_vat": correct["incl_vat"] + delta}
        cdr: dict[str, Any] = {
            "country_code": session["country_code"],
            "party_id": session["party_id"],
            "id": cdr_id,
            "start_date_time": session["start_date_time"],
            "end_date_time": session["end_date_time"],
            "session_id": run.session_id,
            "cdr_token": session["cdr_token"],
            "auth_method": session["auth_method"],
        }
        if session.get("authorization_reference"):
            cdr["authorization_reference"] = session["authorization_reference"]
        cdr["cdr_location"] = {k: v for k, v in run.cdr_location.items() if v is not None}
        cdr["currency"] = "EUR"
        if run.tariff:
            cdr["tariffs"] = [run.tariff]
        cdr["charging_periods"] = list(run.periods)
        cdr["total_cost"] = total
        for key, part, kinds in (
            ("total_fixed_cost", breakdown.fixed, ("FLAT",)),
            ("total_energy_cost", breakdown.energy, ("ENERGY",)),
            ("total_time_cost", breakdown.time, ("TIME",)),
            ("total_parking_cost", breakdown.parking, ("PARKING_TIME",)),
        ):
            if any(line.dimension in kinds and not line.reservation for line in breakdown.lines):
                cdr[key] = part.as_ocpi()
        cdr["total_energy"] = Decimal(run.energy_wh) / 1000
        cdr["total_time"] = hours(now - run.started)
        cdr["total_parking_time"] = parking
        cdr["last_updated"] = protocol.format_epoch(now)
        self.store.put("cdr", cdr_id, cdr)
        self.store.put("cdr_meta", cdr_id, {"wrong_total": wrong, "correct_total": correct})
        if wrong:
            log.info("CDR %s published with a wrong total %s (correct %s)", cdr_id, total, correct)
        return cdr
