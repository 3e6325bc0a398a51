"""Reads of what CPOs told us, shaped for the OCPI GET endpoints, the driver API and the back office."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, F, Func, Max, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from drivers.models import Driver, TokenChange
from emsp.lib.prepared import PreparedQuery
from roaming.models import (
    Authorization,
    Cdr,
    ChargingPreferencesRequest,
    ChargingSession,
    Command,
    Connector,
    Evse,
    EvseStatus,
    InvoiceReconciliationRecord,
    IssuedInvoiceRecord,
    Location,
    Partner,
    PriceComponent,
    SyncRun,
    Tariff,
    TariffElement,
    TokenPushCursor,
)

Party = tuple[str, str]


def location_with_children(party: Party, location_id: str) -> Location | None:
    """One location with its EVSEs and connectors in three queries (removed ones included: the CPO
    asked for what we stored)."""
    return (
        Location.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=location_id)
        .prefetch_related(
            Prefetch("evses", queryset=Evse.objects.order_by("pk")),
            Prefetch("evses__connectors", queryset=Connector.objects.order_by("pk")),
        )
        .first()
    )


def tariff_with_elements(party: Party, tariff_id: str) -> Tariff | None:
    """A tariff in use (not deleted by its CPO) with its elements and price components."""
    return (
        Tariff.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=tariff_id, removed_at__isnull=True)
        .prefetch_related(
            Prefetch("elements", queryset=TariffElement.objects.order_by("position")),
            Prefetch("elements__price_components", queryset=PriceComponent.objects.order_by("position")),
        )
        .first()
    )


def invoice_record(party: Party, record_id: str) -> InvoiceReconciliationRecord | None:
    """A live invoice reconciliation record (one its CPO deleted is gone for the CPO too)."""
    return InvoiceReconciliationRecord.objects.filter(
        country_code=party[0], party_id=party[1], ocpi_id=record_id, deleted_at__isnull=True
    ).first()


def issued_invoice_records(partner: Partner) -> QuerySet[IssuedInvoiceRecord]:
    """Our records for a partner's invoices (reverse billing): what its pull of our Sender list sees."""
    return IssuedInvoiceRecord.objects.filter(partner=partner)


def last_successful_sync(partner_id: int, module: str) -> SyncRun | None:
    return (
        SyncRun.objects.filter(partner_id=partner_id, module=module, status=SyncRun.Status.SUCCEEDED)
        .order_by("-started_at")
        .first()
    )


def syncs_last_succeeded() -> list[dict[str, Any]]:
    """Per registered partner and module: when its last successful pull started (what it is up to date with)."""
    return list(
        SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED, partner__status=Partner.Status.REGISTERED)
        .values("partner__name", "module")
        .annotate(started_at=Max("started_at"))
        .order_by("partner__name", "module")
    )


def command_timeouts_by_partner() -> list[dict[str, Any]]:
    """Per partner: the commands that ended in TIMEOUT (recorded by us past the deadline, or sent by the CPO)."""
    return list(
        Command.objects.filter(result=Command.Result.TIMEOUT)
        .values("partner__name")
        .annotate(count=Count("pk"))
        .order_by("partner__name")
    )


def resumable_sync(partner_id: int, module: str, *, since: datetime) -> SyncRun | None:
    """The last finished full run of the module, if it failed part-way since `since`: the next full run resumes it."""
    last = (
        SyncRun.objects.filter(partner_id=partner_id, module=module, mode=SyncRun.Mode.FULL)
        .exclude(status=SyncRun.Status.RUNNING)
        .order_by("-started_at")
        .first()
    )
    if last and last.status == SyncRun.Status.FAILED and last.resume_keys is not None and last.started_at >= since:
        return last
    return None


def visible_locations() -> QuerySet[Location]:
    """Locations a driver may see: published, still listed by their CPO."""
    return Location.objects.filter(publish=True, removed_at__isnull=True)


def connector_visible(
    *, pk: int | None = None, location_pk: int | None = None, evse_uid: str = "", connector_id: str = ""
) -> Connector | None:
    """A connector a driver may charge at, by our id or by (our location id, the CPO's EVSE uid and connector
    id), with its EVSE and location: None when it is unknown, removed, on a removed EVSE or on a location
    the CPO does not publish (the app must not learn of those)."""
    connectors = Connector.objects.filter(
        removed_at__isnull=True,
        evse__removed_at__isnull=True,
        evse__location__publish=True,  # as visible_locations()
        evse__location__removed_at__isnull=True,
    ).exclude(evse__status=EvseStatus.REMOVED)
    if pk is not None:
        connectors = connectors.filter(pk=pk)
    elif location_pk is not None:
        connectors = connectors.filter(evse__location_id=location_pk, evse__uid=evse_uid, ocpi_id=connector_id)
    else:
        return None
    return connectors.select_related("evse__location").first()


def authorization_for_reference(reference: str) -> Authorization | None:
    """The authorization a Session or CDR echoes as `authorization_reference` (real-time or command)."""
    return Authorization.objects.select_related("token", "partner").filter(reference=reference).first()


def command_for_authorization_reference(reference: str) -> Command | None:
    """The START_SESSION (or RESERVE_NOW) that a Session's `authorization_reference` answers.

    Whatever the command's result, even TIMEOUT or FAILED: a session may still start after those (field notes
    4), and it belongs to this command and its token.
    """
    if not reference:
        return None
    return Command.objects.select_related("token", "partner").filter(authorization_reference=reference).first()


def token_changes_pending(cursor: TokenPushCursor) -> int:
    """Token changes the cursor's partner has not received yet."""
    return TokenChange.objects.filter(pk__gt=cursor.last_change_id).count()


def token_changes_pending_count(position: Any) -> Coalesce:
    """`token_changes_pending` as an expression, for a list of cursors in one query: `position` is the cursor's
    last_change_id (an OuterRef). A range of the change log's primary key, counted in its index."""
    count = TokenChange.objects.filter(pk__gt=position).order_by().annotate(n=Func(F("pk"), function="COUNT"))
    return Coalesce(Subquery(count.values("n")), 0)


def charging_session(party: Party, session_id: str) -> ChargingSession | None:
    return ChargingSession.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=session_id).first()


def cdr_of_parties(pk: int, parties: frozenset[Party]) -> Cdr | None:
    """A stored CDR, only if it belongs to one of the asking connection's parties."""
    cdr = Cdr.objects.filter(pk=pk).first()
    return cdr if cdr is not None and (cdr.country_code, cdr.party_id) in parties else None


def preferences_in_force(session: ChargingSession) -> ChargingPreferencesRequest | None:
    """The charging preferences the CPO charges this session by: the latest it accepted."""
    return (
        session.preference_requests.filter(response=ChargingPreferencesRequest.Response.ACCEPTED)
        .order_by("-created_at", "-pk")
        .first()
    )


# --- the driver app: a driver's own sessions, commands and the EVSEs they may start --------------------------


def driver_sessions(driver: Driver) -> QuerySet[ChargingSession]:
    """The driver's sessions (newest first by the `session_driver_recent` index), with their location."""
    return ChargingSession.objects.filter(driver=driver).select_related("location")


def driver_session(driver: Driver, pk: int) -> ChargingSession | None:
    return driver_sessions(driver).select_related("partner").filter(pk=pk).first()


def driver_command(driver: Driver, reference: str) -> Command | None:
    """A command the driver's app sent (through one of their tokens), by its reference."""
    try:
        reference = str(uuid.UUID(reference))
    except ValueError:
        return None
    return Command.objects.select_related("partner").filter(reference=reference, token__driver=driver).first()


def evse_to_charge(*, location_pk: int | None = None, evse_uid: str = "", evse_id: str = "") -> Evse | None:
    """An EVSE a driver may see (published location, neither removed), by location and uid or by its EVSE id."""
    evses = Evse.objects.select_related("location", "location__partner").filter(
        location__publish=True, location__removed_at__isnull=True, removed_at__isnull=True
    )
    evses = evses.exclude(status=EvseStatus.REMOVED)
    if evse_id:
        return evses.filter(evse_id=evse_id.strip()).first()  # as printed on the charger: the evse_evse_id index
    if location_pk is None:
        return None
    return evses.filter(location_id=location_pk, uid=evse_uid).first()


def command_session(command: Command) -> ChargingSession | None:
    """The session a command started (START_SESSION, by its authorization) or stopped (STOP_SESSION)."""
    if command.type == Command.Type.START_SESSION and command.authorization_reference:
        return ChargingSession.objects.filter(authorization_reference=command.authorization_reference).first()
    if command.type == Command.Type.STOP_SESSION:
        return ChargingSession.objects.filter(partner_id=command.partner_id, ocpi_id=command.session_id).first()
    return None


@dataclass(frozen=True)
class Outcome:
    """What became of a command, in the app's words: `state` pending / accepted / rejected / failed /
    timed_out / cancelled, `reason` a stable code for why (empty while pending or when accepted)."""

    state: str
    reason: str
    message: str


_RESULTS: dict[str, tuple[str, str, str]] = {
    Command.Result.ACCEPTED: ("accepted", "", "The charger accepted."),
    Command.Result.CANCELED_RESERVATION: ("cancelled", "reservation_cancelled", "The reservation was cancelled."),
    Command.Result.EVSE_OCCUPIED: ("rejected", "charger_occupied", "The charger is in use by someone else."),
    Command.Result.EVSE_INOPERATIVE: ("rejected", "charger_out_of_order", "The charger is out of order."),
    Command.Result.FAILED: ("failed", "charger_failed", "The charger could not do it. Please try again."),
    Command.Result.NOT_SUPPORTED: ("rejected", "not_supported", "The charger does not support this."),
    Command.Result.REJECTED: ("rejected", "refused", "The charger refused."),
    Command.Result.TIMEOUT: ("timed_out", "charger_timeout", "The charger did not answer in time."),
    Command.Result.UNKNOWN_RESERVATION: (
        "rejected",
        "unknown_reservation",
        "The charger does not know this reservation.",
    ),
}
_RESPONSES: dict[str, tuple[str, str, str]] = {
    Command.Response.REJECTED: ("rejected", "refused", "The charger's operator refused."),
    Command.Response.NOT_SUPPORTED: ("rejected", "not_supported", "The charger's operator does not support this."),
    Command.Response.UNKNOWN_SESSION: (
        "rejected",
        "unknown_session",
        "The charger's operator does not know this session.",
    ),
}


def command_delivery_timed_out(command: Command) -> bool:
    """Did the CPO not answer the command's POST in time? (`error` names the requests exception, e.g.
    "ReadTimeout"; any other delivery failure is the CPO being unreachable or answering nonsense.)"""
    return command.state == Command.State.FAILED and "Timeout" in command.error


def command_sending(command: Command) -> bool:
    """Is the command still being sent: its first POST certainly did not reach the CPO, and another is due or
    under way (roaming/services/commands.py)?"""
    return (
        command.state == Command.State.PENDING
        and not command.result
        and not command.response
        and (command.next_attempt_at is not None or command.send_attempts > 1)
    )


def commands_sending_count() -> int:
    """Commands being sent again because their CPO was unreachable (metrics)."""
    return Command.objects.filter(state=Command.State.PENDING, result="", next_attempt_at__isnull=False).count()


def command_outcome(command: Command, *, now: datetime | None = None) -> Outcome:
    """The command's state for the app. Past its deadline with no result it is timed out at once, before the
    periodic `commands_time_out` records it (a result that comes later still replaces it). While it is sent
    again it is `pending`, reason `sending`, with the attempt it is at."""
    if command.result:
        return Outcome(*_RESULTS.get(command.result, ("failed", "charger_failed", "The charger could not do it.")))
    if command.state == Command.State.FAILED:
        if command_delivery_timed_out(command):
            return Outcome("failed", "operator_timeout", "The charger's operator did not answer in time.")
        return Outcome("failed", "operator_unreachable", "The charger's operator could not be reached.")
    if command.response in _RESPONSES:
        return Outcome(*_RESPONSES[command.response])
    if command_sending(command):
        attempt = command.send_attempts + (1 if command.next_attempt_at is not None else 0)
        return Outcome("pending", "sending", f"Sending to the charger's operator, attempt {attempt}.")
    if command.deadline is not None and command.deadline <= (now or timezone.now()):
        return Outcome("timed_out", "charger_timeout", "The charger did not answer in time.")
    return Outcome("pending", "", "Waiting for the charger.")


def command_retryable(command: Command, *, now: datetime | None = None) -> bool:
    """Timed out or failed (not refused by the CPO or the charger): the same command may be sent again."""
    return command_outcome(command, now=now).state in ("timed_out", "failed")


#: What the live poll shows of a session (and its cache key): a narrow row, read every few seconds per app.
_LIVE_FIELDS = (
    "id", "driver_id", "status", "start_date_time", "end_date_time", "last_updated", "updated_at", "kwh",
    "evse_uid", "connector_id", "location__id", "location__name", "location__address", "location__city",
)  # fmt: skip


# Compiled once per thread: the apps poll it every few seconds, and compiling it cost as much as running it.
_live_session_query = PreparedQuery(
    lambda pk, driver: (
        ChargingSession.objects.filter(pk=pk, driver_id=driver).select_related("location").only(*_LIVE_FIELDS)
    ),
    ints=("pk", "driver"),
)


def driver_session_live(driver: Driver, pk: int) -> ChargingSession | None:
    """The driver's session with only what the live poll shows (pricing it reads the whole row again)."""
    found = _live_session_query.all(pk=pk, driver=driver.pk)
    return found[0] if found else None
