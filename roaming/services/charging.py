"""A driver's own charging actions from the app: start, stop, reserve and cancel, each a command to the CPO.

These add the driver's rules to the command flow (`roaming.services.commands`): the command carries the
driver's app token, an EVSE must say it can be started remotely or reserved (its capabilities), only a running
session of the driver's own can be stopped, and only the driver's own reservation cancelled. What the CPO then
answers is the command's, read with `roaming.selectors.command_outcome`.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from drivers.models import Driver, Token
from roaming.models import ChargingSession, Command, Evse
from roaming.services.commands import (
    CommandRefused,
    command_cancel_reservation,
    command_reserve_now,
    command_start_session,
    command_stop_session,
)

REMOTE_START_STOP = "REMOTE_START_STOP_CAPABLE"
RESERVABLE = "RESERVABLE"


class ChargingRefused(Exception):
    """Refused before anything was sent to the CPO. `code` is stable for the app; `conflict` tells a clash
    with the current state (a session that is not running) from a request that cannot be done at all."""

    def __init__(self, code: str, message: str, *, conflict: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.conflict = conflict


def driver_app_token(*, driver: Driver) -> Token:
    """The driver's app token (the newest active one): what the app charges with, on their account."""
    token = (
        Token.objects.filter(driver=driver, type=Token.Type.APP_USER, status=Token.Status.ACTIVE)
        .order_by("-created_at", "-pk")
        .first()
    )
    if token is None:
        raise ChargingRefused("no_app_token", "Your account has no active app token to charge with.", conflict=True)
    return token


def _refused(exc: CommandRefused) -> ChargingRefused:
    if exc.allowed is not None:
        return ChargingRefused("token_not_allowed", "Your account may not charge right now.", conflict=True)
    return ChargingRefused("refused", exc.message)


def charging_start(*, driver: Driver, evse: Evse, connector_id: str = "") -> Command:
    """Ask the EVSE's CPO to start charging on the driver's app token (START_SESSION)."""
    if evse.capabilities and REMOTE_START_STOP not in evse.capabilities:
        raise ChargingRefused("remote_start_not_supported", "This charger cannot be started from the app.")
    token = driver_app_token(driver=driver)
    location = evse.location
    try:
        return command_start_session(
            token, location.ocpi_id, evse.uid, connector_id or None, party=(location.country_code, location.party_id)
        )
    except CommandRefused as exc:
        raise _refused(exc) from exc


def charging_stop(*, driver: Driver, session: ChargingSession) -> Command:
    """Ask the CPO to stop the driver's running session (STOP_SESSION)."""
    if not session.is_live:
        raise ChargingRefused("session_not_running", "This session is not running.", conflict=True)
    token = driver_app_token(driver=driver)
    try:
        return command_stop_session(session.ocpi_id, session.partner, token=token)
    except CommandRefused as exc:
        raise _refused(exc) from exc


def charging_reserve(*, driver: Driver, evse: Evse, expiry: datetime) -> Command:
    """Reserve the EVSE until `expiry` (RESERVE_NOW), only where the CPO says the EVSE is RESERVABLE."""
    if RESERVABLE not in evse.capabilities:
        raise ChargingRefused("not_reservable", "This charger cannot be reserved.")
    if expiry <= timezone.now():
        raise ChargingRefused("expiry_in_past", "A reservation must end in the future.")
    token = driver_app_token(driver=driver)
    location = evse.location
    try:
        return command_reserve_now(
            token,
            location.ocpi_id,
            expiry_date=expiry,
            evse_uid=evse.uid,
            party=(location.country_code, location.party_id),
        )
    except CommandRefused as exc:
        raise _refused(exc) from exc


def charging_reservation_cancel(*, driver: Driver, reservation: Command) -> Command:
    """Cancel the driver's reservation (CANCEL_RESERVATION): `reservation` is its RESERVE_NOW command."""
    if reservation.type != Command.Type.RESERVE_NOW or reservation.result not in ("", Command.Result.ACCEPTED):
        raise ChargingRefused("reservation_not_active", "This reservation is not active.", conflict=True)
    token = driver_app_token(driver=driver)
    location = reservation.request.get("location_id", "")
    party = (
        Evse.objects.filter(location__partner=reservation.partner, location__ocpi_id=location)
        .values_list("location__country_code", "location__party_id")
        .first()
    )
    try:
        return command_cancel_reservation(reservation.reservation_id, reservation.partner, token=token, to_party=party)
    except CommandRefused as exc:
        raise _refused(exc) from exc
