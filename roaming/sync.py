"""Pull sync of a CPO's Sender interfaces (locations, tariffs, sessions, CDRs) into our mirror.

A run walks the CPO's list page by page through the OCPI client (constant memory: one page at a
time, the `Link` URL followed as given). Each page is validated object by object (a broken object is
counted and logged, the rest of the page is kept) and written in one transaction by the same upsert
the push endpoints use, so a failure never leaves half a page applied. A full run then marks what the
CPO no longer lists as removed (locations, tariffs: sessions and CDRs are never removed, and a CPO may
list only recent ones); an incremental run asks only for changes since the last successful run
started. Either way the run is recorded in `SyncRun`, with its counts and its error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone
from pydantic import ValidationError

from roaming import selectors
from roaming.models import Cdr, ChargingSession, Location, Partner, SyncRun, Tariff
from roaming.ocpi.client import OcpiClient, OcpiClientError, OcpiResult
from roaming.ocpi.v2_2_1 import CDR as OcpiCdr
from roaming.ocpi.v2_2_1 import Location as OcpiLocation
from roaming.ocpi.v2_2_1 import Session as OcpiSession
from roaming.ocpi.v2_2_1 import Tariff as OcpiTariff
from roaming.ocpi.v2_2_1.mapping import cdr_data, location_data, session_data, tariff_data
from roaming.ocpi.v2_2_1.types import describe_validation_error, format_datetime
from roaming.records import CdrData
from roaming.services.cdrs import cdrs_upsert
from roaming.services.common import UpsertResult, mark_unlisted
from roaming.services.locations import locations_upsert
from roaming.services.sessions import sessions_upsert
from roaming.services.tariffs import tariffs_upsert

logger = logging.getLogger(__name__)

PAGE_LIMIT = 1000  # what we ask for; the CPO may cap it lower (X-Limit)

Progress = Callable[[SyncRun], None]


class SyncError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class ModuleSync:
    """How one module is pulled: its wire model, its mapping, its upsert and its model."""

    parse: Callable[[dict[str, Any]], Any]
    to_data: Callable[[Any], Any]
    upsert: Callable[..., UpsertResult]
    model: type[models.Model]
    #: A full run marks what the CPO no longer lists as removed (objects that can disappear).
    detect_removals: bool = True
    #: `date_from` of a full run, for Sender interfaces that require one (Sessions).
    full_date_from: str | None = None


def _parse_cdr(obj: dict[str, Any]) -> tuple[OcpiCdr, dict[str, Any]]:
    return OcpiCdr.model_validate(obj), obj  # the CDR as received is kept next to its columns


def _cdr_data(parsed: tuple[OcpiCdr, dict[str, Any]]) -> CdrData:
    return cdr_data(*parsed)


MODULES: dict[str, ModuleSync] = {
    SyncRun.Module.LOCATIONS: ModuleSync(OcpiLocation.model_validate, location_data, locations_upsert, Location),
    SyncRun.Module.TARIFFS: ModuleSync(OcpiTariff.model_validate, tariff_data, tariffs_upsert, Tariff),
    SyncRun.Module.SESSIONS: ModuleSync(
        OcpiSession.model_validate,
        session_data,
        sessions_upsert,
        ChargingSession,
        detect_removals=False,
        full_date_from="2000-01-01T00:00:00Z",
    ),
    SyncRun.Module.CDRS: ModuleSync(_parse_cdr, _cdr_data, cdrs_upsert, Cdr, detect_removals=False),
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
    """Run one sync and return its record. Raises `SyncError` after recording the failure."""
    spec = MODULES[module]
    url = partner.endpoint_url(module, "SENDER")
    if partner.status != Partner.Status.REGISTERED or not url:
        raise SyncError(f"Partner {partner} is not registered or has no {module} Sender endpoint.", permanent=True)
    previous = None if full else selectors.last_successful_sync(partner.pk, module)
    run = SyncRun.objects.create(
        partner=partner,
        module=module,
        attempt=attempt,
        mode=SyncRun.Mode.INCREMENTAL if previous else SyncRun.Mode.FULL,
        date_from=previous.started_at - timedelta(seconds=settings.OCPI_SYNC_OVERLAP_SECONDS) if previous else None,
    )
    params: dict[str, Any] = {"limit": PAGE_LIMIT}
    if run.date_from:
        params["date_from"] = format_datetime(run.date_from)
    elif spec.full_date_from:
        params["date_from"] = spec.full_date_from
    client = client or OcpiClient.for_partner(partner)
    parties = {(r.country_code.upper(), r.party_id.upper()) for r in partner.roles.all()}
    listed: set[tuple[str, str, str]] = set()
    try:
        for page, (items, invalid) in _parsed_pages(
            client.iter_pages(url, params=params, module=module, prefetch=True), spec, parties
        ):
            result = spec.upsert(partner=partner, items=items)
            listed |= result.keys
            SyncRun.objects.filter(pk=run.pk).update(
                pages=F("pages") + 1,
                seen=F("seen") + len(page.data),
                invalid=F("invalid") + invalid,
                created=F("created") + result.created,
                updated=F("updated") + result.updated,
                unchanged=F("unchanged") + result.unchanged + result.stale,
                total_expected=page.total_count,
            )
            if progress:
                run.refresh_from_db()
                progress(run)
        removed = (
            mark_unlisted(spec.model, partner=partner, parties=parties, listed=listed)
            if run.mode == SyncRun.Mode.FULL and spec.detect_removals
            else 0
        )
    except OcpiClientError as exc:
        _finish(run, SyncRun.Status.FAILED, error=str(exc))
        raise SyncError(str(exc), permanent=exc.permanent) from exc
    except Exception as exc:
        _finish(run, SyncRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    _finish(run, SyncRun.Status.SUCCEEDED, removed=removed)
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


def _parsed_pages(
    pages: Iterator[OcpiResult], spec: ModuleSync, parties: set[tuple[str, str]]
) -> Iterator[tuple[OcpiResult, tuple[list[Any], int]]]:
    """Pages with their objects validated and mapped, the next page's while the caller writes this one.

    Validation and mapping are pure Python; writing a page mostly waits on the database. Overlapping them
    shortens a big pull by about a third (at most two pages are held at a time).
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-parse") as pool:
        pending: tuple[OcpiResult, Future[tuple[list[Any], int]]] | None = None
        for page in pages:
            parsed = pool.submit(_parse_page, spec, page.data, parties)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = (page, parsed)
        if pending is not None:
            yield pending[0], pending[1].result()


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


def _finish(run: SyncRun, status: str, *, removed: int = 0, error: str = "") -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        status=status, finished_at=timezone.now(), removed=removed, error=error[:5000]
    )
