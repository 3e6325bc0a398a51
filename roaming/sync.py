"""Pull sync of a CPO's Sender interfaces (locations, tariffs, sessions, CDRs) into our mirror.

A run walks the CPO's list page by page through the OCPI client (constant memory: a few pages at a
time). Each page is validated object by object (a broken object is counted and logged, the rest of the
page is kept) and written in one transaction by the same upsert the push endpoints use, so a failure
never leaves half a page applied. A full run then marks what the CPO no longer lists as removed
(locations, tariffs: sessions and CDRs are never removed, and a CPO may list only recent ones); an
incremental run asks only for changes since the last successful run started. Either way the run is
recorded in `SyncRun`, with its counts, its error and its notes.

Paging. The `Link` URL is followed as given when it is on the scheme and host we called. When it is
missing while X-Total-Count says more objects remain, points at another scheme or host (a real partner
advertised `https` on a plain-HTTP server; and our token goes nowhere else), or fails after the client's
retries (connection error, 404, no JSON), the rest of the list is asked by `offset` on the module URL we
called, with the same filters and the partner's X-Limit, up to X-Total-Count or an empty page; a partner
that ignores `offset` (the same page again) fails the run cleanly. The run's notes say when and why
("Link pointed at https://… (we called http://…): offset paging from offset 1000"). No Link and no
X-Total-Count is the last page.

Interruptions. Every page is written as soon as it has arrived and been parsed: the next page is fetched
and parsed in the background meanwhile, but no page waits for the next one, so when a fetch fails every
page received is stored before the run fails. A full run that fails after storing pages records where it
stopped (`next_offset`), the key of the last object stored and, for removal detection, every key it listed
(`resume_keys`). The next full run of that module within `RESUME_WITHIN` resumes there: it asks from the
offset before, and the first object must be that last object again, else the list has moved (or the
partner ignores `offset`) and the run starts again from offset 0. A resumed run marks removed only what
neither it nor the runs it resumed listed.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone
from pydantic import ValidationError

from emsp.lib.locks import held_while_alive
from roaming import selectors
from roaming.models import Cdr, ChargingSession, Location, Partner, SyncRun, Tariff
from roaming.ocpi.client import OcpiClient, OcpiClientError, OcpiResult
from roaming.ocpi.v2_2_1.types import describe_validation_error, format_datetime
from roaming.ocpi.versions import Wire, wire_for
from roaming.records import CdrData
from roaming.services.cdrs import cdrs_upsert
from roaming.services.common import ObjectKey, UpsertResult, mark_unlisted
from roaming.services.locations import locations_upsert
from roaming.services.sessions import sessions_upsert
from roaming.services.tariffs import tariffs_upsert

logger = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # what we ask for; the CPO may cap it lower (X-Limit)
#: A failed full run is resumed by the next full run only this soon after it started (its retries come within
#: the hour). Older, the list has likely moved on, and the keys it listed would hold back removals too long.
RESUME_WITHIN = timedelta(hours=12)

Progress = Callable[[SyncRun], None]


class SyncError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


Party = tuple[str, str]


def _unbound(obj: Any) -> Any:
    raise AssertionError("ModuleSync.for_wire() binds parse and to_data to the partner's OCPI version")


@dataclass(frozen=True)
class ModuleSync:
    """How one module is pulled: its wire model and mapping (those of the partner's OCPI version, bound by
    `for_wire`), its upsert and its model."""

    wired: Callable[[Wire, Party], tuple[Callable[[dict[str, Any]], Any], Callable[[Any], Any]]]
    upsert: Callable[..., UpsertResult]
    model: type[models.Model]
    #: A full run marks what the CPO no longer lists as removed (objects that can disappear).
    detect_removals: bool = True
    #: `date_from` of a full run, for Sender interfaces that require one (Sessions).
    full_date_from: str | None = None
    parse: Callable[[dict[str, Any]], Any] = _unbound
    to_data: Callable[[Any], Any] = _unbound

    def for_wire(self, wire: Wire, party: Party) -> ModuleSync:
        """This module read with `wire`; `party` owns the objects of versions whose objects name none (2.1.1)."""
        parse, to_data = self.wired(wire, party)
        return replace(self, parse=parse, to_data=to_data)


def _locations(wire: Wire, party: Party) -> tuple[Callable[[dict[str, Any]], Any], Callable[[Any], Any]]:
    return wire.Location.model_validate, lambda obj: wire.location_data(obj, party)


def _tariffs(wire: Wire, party: Party) -> tuple[Callable[[dict[str, Any]], Any], Callable[[Any], Any]]:
    return wire.Tariff.model_validate, lambda obj: wire.tariff_data(obj, party)


def _sessions(wire: Wire, party: Party) -> tuple[Callable[[dict[str, Any]], Any], Callable[[Any], Any]]:
    return wire.Session.model_validate, lambda obj: wire.session_data(obj, party)


def _cdrs(wire: Wire, party: Party) -> tuple[Callable[[dict[str, Any]], Any], Callable[[Any], Any]]:
    def parse(obj: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return wire.CDR.model_validate(obj), obj  # the CDR as received is kept next to its columns

    def to_data(parsed: tuple[Any, dict[str, Any]]) -> CdrData:
        return wire.cdr_data(parsed[0], parsed[1], party)

    return parse, to_data


def _pull_party(partner: Partner) -> Party:
    """Whose objects a pull brings when they do not say (2.1.1): the partner's CPO party."""
    roles = sorted(partner.roles.all(), key=lambda r: (r.role != "CPO", r.pk))
    return (roles[0].country_code.upper(), roles[0].party_id.upper()) if roles else ("", "")


MODULES: dict[str, ModuleSync] = {
    SyncRun.Module.LOCATIONS: ModuleSync(_locations, locations_upsert, Location),
    SyncRun.Module.TARIFFS: ModuleSync(_tariffs, tariffs_upsert, Tariff),
    SyncRun.Module.SESSIONS: ModuleSync(
        _sessions,
        sessions_upsert,
        ChargingSession,
        detect_removals=False,
        full_date_from="2000-01-01T00:00:00Z",
    ),
    SyncRun.Module.CDRS: ModuleSync(_cdrs, cdrs_upsert, Cdr, detect_removals=False),
}


def sync_partner(
    *,
    partner: Partner,
    module: str,
    full: bool,
    progress: Progress | None = None,
    client: OcpiClient | None = None,
    attempt: int = 1,
) -> SyncRun:
    """Run one sync and return its record. Raises `SyncError` after recording the failure.

    One run per partner and module at a time: a second one started meanwhile (the schedule during a long first
    pull, a button pressed twice) is refused rather than walking the same pages beside it. The guard is a lock
    that dies with the process holding it, so a run left `running` by a killed worker is known to be dead and
    is closed by the next one (`held_while_alive`)."""
    url = partner.endpoint_url(module, "SENDER")
    if partner.status != Partner.Status.REGISTERED or not url:
        raise SyncError(f"Partner {partner} is not registered or has no {module} Sender endpoint.", permanent=True)
    with held_while_alive(f"roaming.sync:{partner.pk}:{module}") as taken:
        if not taken:
            raise SyncError(f"A {module} sync of {partner} is already running; not started again.", permanent=True)
        _close_abandoned(partner, module)
        return _sync(
            partner=partner, module=module, full=full, url=url, progress=progress, client=client, attempt=attempt
        )


def _close_abandoned(partner: Partner, module: str) -> None:
    """Runs still marked running while nobody holds their lock: their process died (SIGKILL, OOM, a lost host)."""
    SyncRun.objects.filter(partner=partner, module=module, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.FAILED,
        finished_at=timezone.now(),
        error="interrupted: the process running it stopped (worker killed or restarted); a later run took over",
    )


def _sync(
    *,
    partner: Partner,
    module: str,
    full: bool,
    url: str,
    progress: Progress | None,
    client: OcpiClient | None,
    attempt: int,
) -> SyncRun:
    spec = MODULES[module].for_wire(wire_for(partner), _pull_party(partner))
    previous = None if full else selectors.last_successful_sync(partner.pk, module)
    resumed = None if previous else selectors.resumable_sync(partner.pk, module, since=timezone.now() - RESUME_WITHIN)
    walk = _Walk()
    if resumed:
        keys = resumed.resume_keys or {}
        walk = _Walk(
            offset=resumed.next_offset, last=keys.get("last"), listed={tuple(k) for k in keys.get("listed") or []}
        )
        walk.notes.append(
            f"resumed run #{resumed.pk}, which failed at offset {resumed.next_offset}: from offset "
            f"{resumed.next_offset - 1} (its last object again, to check that the list has not moved)"
        )
    run = SyncRun.objects.create(
        partner=partner,
        module=module,
        attempt=attempt,
        mode=SyncRun.Mode.INCREMENTAL if previous else SyncRun.Mode.FULL,
        date_from=previous.started_at - timedelta(seconds=settings.OCPI_SYNC_OVERLAP_SECONDS) if previous else None,
        start_offset=max(walk.offset - 1, 0),
        next_offset=walk.offset,
        notes="\n".join(walk.notes),
    )
    params: dict[str, Any] = {"limit": PAGE_LIMIT}
    if run.date_from:
        params["date_from"] = format_datetime(run.date_from)
    elif spec.full_date_from:
        params["date_from"] = spec.full_date_from
    client = client or OcpiClient.for_partner(partner)
    parties = {(r.country_code.upper(), r.party_id.upper()) for r in partner.roles.all()}
    try:
        try:
            _walk_pages(run, walk, client=client, url=url, params=params, spec=spec, parties=parties, progress=progress)
        except _ListMoved:
            assert resumed is not None  # only a resumed run checks its first object
            walk = _Walk(notes=walk.notes)
            walk.notes.append(
                f"the object at offset {run.start_offset} is not the last one run #{resumed.pk} "
                "stored (the list moved, or the partner ignores offset): restarted from offset 0"
            )
            SyncRun.objects.filter(pk=run.pk).update(start_offset=0, next_offset=0, notes="\n".join(walk.notes))
            run.start_offset = 0
            _walk_pages(run, walk, client=client, url=url, params=params, spec=spec, parties=parties, progress=progress)
        removed = (
            mark_unlisted(spec.model, partner=partner, parties=parties, listed=walk.listed)
            if run.mode == SyncRun.Mode.FULL and spec.detect_removals
            else 0
        )
    except OcpiClientError as exc:
        _fail(run, walk, spec, error=str(exc), resumed=resumed)
        raise SyncError(str(exc), permanent=exc.permanent) from exc
    except Exception as exc:
        _fail(run, walk, spec, error=f"{type(exc).__name__}: {exc}", resumed=resumed)
        raise
    _finish(run, SyncRun.Status.SUCCEEDED, removed=removed, notes=walk.notes, resumed=resumed)
    run.refresh_from_db()
    logger.info(
        "%s: %s sync of %s done: %d seen, %d created, %d updated, %d unchanged, %d removed, %d invalid",
        partner,
        run.mode,
        module,
        run.seen,
        run.created,
        run.updated,
        run.unchanged,
        run.removed,
        run.invalid,
    )
    return run


@dataclass
class _Walk:
    """Where a run is in the CPO's list: what a run that resumes it needs."""

    offset: int = 0  # past the last object stored
    last: list[Any] | None = None  # the key of that object, as the CPO sent it
    listed: set[ObjectKey] = field(default_factory=set)  # every object stored, for removal detection
    notes: list[str] = field(default_factory=list)


class _ListMoved(Exception):
    """A resumed run's first object is not the last one the failed run stored."""


def _walk_pages(
    run: SyncRun,
    walk: _Walk,
    *,
    client: OcpiClient,
    url: str,
    params: dict[str, Any],
    spec: ModuleSync,
    parties: set[tuple[str, str]],
    progress: Progress | None,
) -> None:
    """Write every page from `run.start_offset` on, each as soon as it is parsed, and say where the run is."""
    expect_first = walk.last if walk.offset else None
    pages = client.iter_pages(url, params=params, module=run.module, prefetch=True, offset=run.start_offset)
    with _walking(), closing(_parsed_pages(pages, spec, parties)) as parsed:
        for page, (items, invalid) in parsed:
            if expect_first is not None:
                if not page.data or _raw_key(page.data[0]) != expect_first:
                    raise _ListMoved
                expect_first = None
            if page.paging_note:
                walk.notes.append(page.paging_note)
            result = spec.upsert(partner=run.partner, items=items)
            walk.listed |= result.keys
            if page.data:
                walk.offset, walk.last = page.offset + len(page.data), _raw_key(page.data[-1])
            SyncRun.objects.filter(pk=run.pk).update(
                pages=F("pages") + 1,
                seen=F("seen") + len(page.data),
                invalid=F("invalid") + invalid,
                created=F("created") + result.created,
                updated=F("updated") + result.updated,
                unchanged=F("unchanged") + result.unchanged + result.stale,
                total_expected=page.total_count,
                next_offset=walk.offset,
                notes="\n".join(walk.notes),
            )
            if progress:
                run.refresh_from_db()
                progress(run)


# How many walks run in this process now: the first one in tunes the interpreter for walks, the last one out
# restores it (`_walking`).
_walks = 0
_walks_lock = threading.Lock()
_interpreter: tuple[tuple[int, int, int], float] = ((700, 10, 10), 0.005)


@contextmanager
def _walking() -> Iterator[None]:
    """The interpreter tuned for a walk: the garbage collector kept from rescanning the heap, and the GIL
    handed over sooner.

    Garbage collection. A page of 1,000 locations makes about a million objects (parsed JSON, models, records,
    rows) that live until the page is written and are then freed by reference counting (they hold no
    cycles). With the default thresholds the collector ran every 700 allocations and, as those objects
    survived into the old generation, full collections over everything the process holds (Django, the app):
    with it off, validating a location took 0.13 ms instead of 0.44 ms and mapping it 0.23 ms instead of
    0.45 ms (measured on 1,000 of the simulator's locations). So the heap as it is when the walk starts is set
    aside (`gc.freeze`), and young collections come only every 1,000,000 allocations not yet freed: writing a
    page makes no reference cycle through it (tests/roaming/test_sync_memory.py), so the collector would only
    scan the pages being parsed and written, and free nothing. At 50,000 it still ran about every 200
    locations and took 11 % of a 20,000-location pull (3.3 s of 28.6 s) and 43 s of a 200,000-location one;
    at 1,000,000 it does not run during a first pull at all, and peak RSS stayed at 210 MB.

    The GIL. The page being written waits on PostgreSQL in many short calls (COPY chunks, statements) while
    the next page is parsed in the background; after each call the writer waited up to the switch interval
    (5 ms) for the parsing thread to let go. At 0.5 ms a 6,000-location pull took 21.3 s instead of 24.7 s
    (one run each, on a busy machine).
    """
    global _walks, _interpreter
    with _walks_lock:
        if not _walks:
            _interpreter = (gc.get_threshold(), sys.getswitchinterval())
            gc.collect()
            gc.freeze()
            gc.set_threshold(1_000_000, _interpreter[0][1], _interpreter[0][2])
            sys.setswitchinterval(0.0005)
        _walks += 1
    try:
        yield
    finally:
        with _walks_lock:
            _walks -= 1
            if not _walks:
                gc.set_threshold(*_interpreter[0])
                sys.setswitchinterval(_interpreter[1])
                gc.unfreeze()


def _raw_key(obj: Any) -> list[Any] | None:
    """The object's key as the CPO sent it (valid or not), to recognise it at the same place in a later run."""
    if not isinstance(obj, dict):
        return None
    return [obj.get("country_code"), obj.get("party_id"), obj.get("id")]


def _parsed_pages(
    pages: Generator[OcpiResult, None, None], spec: ModuleSync, parties: set[tuple[str, str]]
) -> Generator[tuple[OcpiResult, tuple[list[Any], int]], None, None]:
    """Pages with their objects validated and mapped, each as soon as it is: the next page is fetched and
    parsed in the background while the caller writes this one.

    Validation and mapping are pure Python; writing a page mostly waits on the database. Overlapping them
    shortened a big pull by about a third (measured when the parse of a page waited for the next one to
    arrive; at most three pages are held now: written, parsed, fetched). No page
    waits for the next one, so when fetching the next one fails, every page that arrived is written before
    the error reaches the caller: an interrupted pull keeps what it received.
    """

    def next_parsed() -> tuple[OcpiResult, tuple[list[Any], int]] | None:
        page = next(pages, None)
        return None if page is None else (page, _parse_page(spec, page.data, parties))

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-parse") as pool:
        pending = pool.submit(next_parsed)
        try:
            while (ready := pending.result()) is not None:
                pending = pool.submit(next_parsed)
                yield ready
        finally:
            pending.cancel()
            wait([pending])
            pages.close()


def _parse_page(spec: ModuleSync, objects: list[Any], parties: set[tuple[str, str]]) -> tuple[list[Any], int]:
    """Valid objects of the partner's own parties; the rest counted and logged, never fatal."""
    items, invalid = [], 0
    for obj in objects:
        try:
            data = spec.to_data(spec.parse(obj))
        except ValidationError as exc:
            invalid += 1
            ident = obj.get("id") if isinstance(obj, dict) else None
            logger.warning("skipping invalid object %s: %s", ident, describe_validation_error(exc))
            continue
        if (data.country_code, data.party_id) not in parties:
            invalid += 1
            logger.warning(
                "skipping %s/%s/%s: not a party of this connection", data.country_code, data.party_id, data.ocpi_id
            )
            continue
        items.append(data)
    return items, invalid


def _finish(
    run: SyncRun, status: str, *, removed: int = 0, error: str = "", notes: list[str], resumed: SyncRun | None
) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), removed=removed, error=error[:5000], notes="\n".join(notes)
    )
    if resumed:  # its keys are carried by this run now (or no longer needed)
        SyncRun.objects.filter(pk=resumed.pk).update(resume_keys=None)


def _fail(run: SyncRun, walk: _Walk, spec: ModuleSync, *, error: str, resumed: SyncRun | None) -> None:
    """Record the failure; a full run that stored something also records where the next full run resumes."""
    if run.mode == SyncRun.Mode.FULL and walk.last is not None:
        listed = sorted(walk.listed) if spec.detect_removals else None
        SyncRun.objects.filter(pk=run.pk).update(resume_keys={"last": walk.last, "listed": listed})
        walk.notes.append(f"stopped at offset {walk.offset}: the next full run resumes there")
    _finish(run, SyncRun.Status.FAILED, error=error, notes=walk.notes, resumed=resumed)
