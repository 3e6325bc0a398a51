"""Commands to CPOs: START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION, UNLOCK_CONNECTOR.

Each command is stored before it is sent, with its own `response_url` (the command's UUID in the path), then
POSTed in the driver's request, so the app gets the CPO's CommandResponse at once. The CommandResult arrives
later at the `response_url` (`command_result_received`), or never, in which case `commands_time_out` records
TIMEOUT after the deadline. Tokens put in START_SESSION and RESERVE_NOW are pre-authorized here (the CPO must
not check them), and that authorization's reference goes along, so the Session the CPO starts can be linked
back to the command.

A POST is not idempotent, so a command is sent again only when the CPO certainly did not process it:
- no connection was made (refused, unreachable, connect timeout: `OcpiClientError.not_sent`);
- HTTP 429 (rate limited; its Retry-After is honoured) or HTTP 503 (the server says it is not serving), with
  or without an OCPI envelope.
Not resent, FAILED at once as before: a read timeout or a connection lost after the request went out, HTTP 500,
502 and 504 (a gateway may have handed the request on before it failed or gave up), any other 5xx, 4xx and
OCPI 2xxx, an OCPI 3xxx under HTTP 2xx (a hub's 3004 "unknown receiver" will not change in a minute), an
invalid CommandResponse. Those may have reached the charger.

A command to resend stays PENDING with `next_attempt_at` and the last `error`, and `command_send` is enqueued
through the outbox in the same transaction (emsp.lib.tasks), after SEND_RETRY_DELAYS. Every attempt POSTs the
stored body: the same response_url (command reference) and authorization reference, so the CPO can tell a
repeat and a result still finds its command. Attempts stop at `send_until`, OCPI_COMMAND_SEND_WINDOW_SECONDS
(60) after the command was made and never past its first deadline: a START_SESSION that arrives minutes later
could start a charge the driver has given up on. Then it is FAILED "Not delivered within 60 s, n attempts:
<last error>".

An attempt is claimed by a conditional UPDATE (`send_attempts` from n-1 to n, only while PENDING, unanswered,
without result and waiting): two workers, or a task re-run after its worker was killed, never POST attempt n
twice, and a result or answer that came meanwhile ends the resending. A worker killed between its claim and the
answer leaves the command to `commands_time_out` (the POST may have gone). `commands_send_due` (every 15 s)
enqueues due attempts whose task was lost (broker down, message lost) and fails commands past their window.
Without a broker the first attempt still works: it needs none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from pydantic import ValidationError

from drivers.models import Token
from drivers.selectors import Allowed, token_with_verdict
from emsp.lib.tasks import enqueue
from roaming.models import Authorization, ChargingSession, Command, Location, Partner, PartnerEndpoint
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.v2_2_1.types import describe_validation_error
from roaming.ocpi.versions import UnsupportedCommand, wire_for
from roaming.selectors import command_outcome, command_retryable, command_sending, command_session

from .hubs import party_unreachable

logger = logging.getLogger("roaming.commands")

# A CPO that never says how long to wait, or says 0, gets this long for its CommandResult.
DEFAULT_RESULT_TIMEOUT_SECONDS = 60
# ...and one that asks for more than this gets this much.
MAX_RESULT_TIMEOUT_SECONDS = 24 * 3600
# Seconds before attempt 2, 3, ... of a POST the CPO certainly did not get (the last repeats). A CPO restarting
# is back within seconds; with a 60 s window this makes at most 6 attempts. A 429's Retry-After replaces it.
SEND_RETRY_DELAYS = (2, 5, 10, 15, 20)
# The sweeper leaves a due attempt this long to its own task before it enqueues another (harmless if both run).
SEND_SWEEP_GRACE = timedelta(seconds=5)
# HTTP statuses with which the server says it did not process the request.
NOT_PROCESSED_HTTP_STATUSES = frozenset({429, 503})

Party = tuple[str, str]


class CommandRefused(Exception):
    """Refused here, before anything was sent: the token may not charge, the location is unknown or ambiguous,
    or the CPO takes no commands. `allowed` is the token verdict when that was the reason."""

    def __init__(self, message: str, *, allowed: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.allowed = allowed


# --- helpers --------------------------------------------------------------------------------------------


def _preauthorize(token: Token) -> Token:
    """The token as it is now (a card blocked a moment ago must not start anything), if it may charge."""
    found = token_with_verdict(token.uid, token.type)
    if found is None:
        raise CommandRefused(f"Unknown token {token.uid}.")
    current, verdict = found
    if verdict.allowed != Allowed.ALLOWED:
        raise CommandRefused(verdict.reason or f"Token not allowed ({verdict.allowed}).", allowed=verdict.allowed)
    return current


def _location(location_id: str, party: Party | None) -> Location:
    """The CPO's location (ids are unique per party only, so a clash across parties needs `party`)."""
    locations = Location.objects.select_related("partner").filter(ocpi_id=location_id, removed_at__isnull=True)
    if party is not None:
        locations = locations.filter(country_code=party[0].upper(), party_id=party[1].upper())
    found = list(locations[:2])
    if not found:
        raise CommandRefused(f"Unknown location {location_id}.")
    if len(found) > 1:
        raise CommandRefused(f"Location id {location_id} exists for several CPOs: say which party.")
    return found[0]


def _commands_url(partner: Partner) -> str:
    if partner.status != Partner.Status.REGISTERED:
        raise CommandRefused(f"{partner} is not a registered partner.")
    url = partner.endpoint_url("commands", PartnerEndpoint.InterfaceRole.RECEIVER)
    if not url:
        raise CommandRefused(f"{partner} does not take commands (no commands Receiver endpoint).")
    return url.rstrip("/")


def _validated(partner: Partner, command_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body in the partner's OCPI version, checked against its model (lengths, required fields) before
    anything is stored or sent. A command the version lacks (2.1.1 CANCEL_RESERVATION) is refused here."""
    try:
        return wire_for(partner).command_request(command_type, body)
    except UnsupportedCommand as exc:
        raise CommandRefused(f"{partner} speaks OCPI {partner.version}, which cannot take this command: {exc}") from exc
    except ValidationError as exc:
        raise CommandRefused(f"Invalid command: {describe_validation_error(exc)}") from exc


def _token_body(partner: Partner, token: Token) -> dict[str, Any]:
    return wire_for(partner).token_to_ocpi(token)


def _create_and_send(
    *,
    partner: Partner,
    command_type: str,
    body: dict[str, Any],
    token: Token | None = None,
    authorize: Authorization | None = None,
    to_party: Party | None = None,
    retry_of: Command | None = None,
    **fields: str,
) -> Command:
    """Store the command (and its authorization) first, commit, then POST it once, addressed to the party
    that owns the location or session (`to_party`; a CPO platform may host several)."""
    url = _commands_url(partner)
    unreachable = party_unreachable(partner=partner, party=to_party)
    if unreachable:
        raise CommandRefused(unreachable)
    command = Command(partner=partner, type=command_type, token=token, retry_of=retry_of, **fields)
    if to_party is not None:
        command.to_country_code, command.to_party_id = to_party
    if authorize is not None:
        command.authorization_reference = authorize.reference
        body["authorization_reference"] = authorize.reference
    body = _validated(partner, command_type, {"response_url": command.response_url, **body})
    command.request = body
    now = timezone.now()
    # If the POST never comes back, the command must still time out some day.
    command.deadline = now + _answer_and_result_time()
    command.send_until = min(now + timedelta(seconds=settings.OCPI_COMMAND_SEND_WINDOW_SECONDS), command.deadline)
    command.send_attempts = 1  # the first, made here
    try:
        with transaction.atomic():
            if authorize is not None:
                authorize.save()
            command.save()
    except IntegrityError:
        if retry_of is None:
            raise
        raise CommandRefused(f"{retry_of} was retried already.") from None  # one retry per command
    return _send(command, f"{url}/{command_type}", to_party)


def _answer_and_result_time() -> timedelta:
    """How long a POST in flight may take to be answered, plus the default wait for the result."""
    return timedelta(seconds=settings.OCPI_CLIENT_TIMEOUT + DEFAULT_RESULT_TIMEOUT_SECONDS)


def _send(command: Command, url: str, to_party: Party | None) -> Command:
    """POST the stored body once (the attempt `command.send_attempts`, claimed by the caller) and record the
    answer, or the failure: to be sent again, or FAILED (module docstring)."""
    try:
        client = OcpiClient.for_partner(command.partner, to_party=to_party)
        answer = client.post(url, command.request, module="commands")
        response = wire_for(command.partner).command_answer(answer.data)
    except OcpiClientError as exc:
        if _certainly_not_processed(exc):
            return _send_later(command, exc)
        return _delivery_failed(command, str(exc))
    except ValidationError as exc:
        return _delivery_failed(command, f"The CPO's CommandResponse is invalid: {describe_validation_error(exc)}")
    if response.result not in Command.Response.values:
        return _delivery_failed(command, f"The CPO answered an unknown CommandResponseType {response.result!r}.")
    # 2.1.1 answers carry no timeout: then we wait our default for the result.
    timeout = max(
        0,
        min(
            DEFAULT_RESULT_TIMEOUT_SECONDS if response.timeout is None else response.timeout, MAX_RESULT_TIMEOUT_SECONDS
        ),
    )
    now = timezone.now()
    with transaction.atomic():
        locked = Command.objects.select_for_update().get(pk=command.pk)
        locked.response = response.result
        locked.response_timeout = timeout
        locked.response_message = response.message
        locked.responded_at = now
        locked.next_attempt_at = None
        locked.error = ""  # an earlier attempt's failure: delivered now
        if not locked.result:  # the result may have overtaken the answer
            accepted = locked.response == Command.Response.ACCEPTED
            locked.state = Command.State.SENT if accepted else Command.State.DONE
            locked.deadline = now + timedelta(seconds=timeout or DEFAULT_RESULT_TIMEOUT_SECONDS)
        locked.save()
    logger.info(
        "command %s %s: %s (attempt %d)", command.type, command.reference, locked.response, locked.send_attempts
    )
    return locked


def _certainly_not_processed(exc: OcpiClientError) -> bool:
    """The CPO did not process the POST: no connection was made, or it answered 429 or 503 (module docstring)."""
    return exc.not_sent or exc.http_status in NOT_PROCESSED_HTTP_STATUSES


def _send_later(command: Command, exc: OcpiClientError) -> Command:
    """Schedule the next attempt, through the outbox in the same transaction, or give up when it would start
    after the send window."""
    error = str(exc)
    attempt = command.send_attempts
    delay = float(SEND_RETRY_DELAYS[min(attempt, len(SEND_RETRY_DELAYS)) - 1])
    if exc.retry_after is not None:  # a 429 that says how long
        delay = exc.retry_after
    now = timezone.now()
    next_at = now + timedelta(seconds=delay)
    if command.send_until is None or next_at > command.send_until:
        return _delivery_failed(command, _not_delivered(command, error))
    from roaming.tasks import command_send_task  # tasks import this module

    with transaction.atomic():
        waiting = Command.objects.filter(
            pk=command.pk, state=Command.State.PENDING, result="", responded_at__isnull=True, send_attempts=attempt
        ).update(next_attempt_at=next_at, error=error[:2000], updated_at=now)
        if waiting:
            enqueue(command_send_task, command.pk, attempt + 1, countdown=delay)
    logger.warning(
        "command %s %s, attempt %d not delivered (%s): attempt %d in %.1f s",
        command.type, command.reference, attempt, error, attempt + 1, delay,
    )  # fmt: skip
    command.refresh_from_db()
    return command


def _not_delivered(command: Command, error: str) -> str:
    window = round((command.send_until - command.created_at).total_seconds()) if command.send_until else 0
    attempts = command.send_attempts
    return f"Not delivered within {window} s, {attempts} attempt{'' if attempts == 1 else 's'}: {error}"


def _delivery_failed(command: Command, error: str) -> Command:
    logger.warning("command %s %s not delivered: %s", command.type, command.reference, error)
    Command.objects.filter(pk=command.pk, result="").update(
        state=Command.State.FAILED, error=error[:2000], deadline=None, next_attempt_at=None, updated_at=timezone.now()
    )
    command.refresh_from_db()
    return command


def _waiting() -> QuerySet[Command]:
    """Commands waiting for their next POST: not answered, no result, the last attempt certainly not processed."""
    return Command.objects.filter(
        state=Command.State.PENDING, result="", responded_at__isnull=True, next_attempt_at__isnull=False
    )


def command_send(*, command_id: int, attempt: int, now: datetime | None = None) -> Command | None:
    """Make attempt `attempt` of a command whose earlier one the CPO certainly did not process (the task, on a
    worker). Nothing when that attempt was claimed already (another worker, or this task before its worker was
    killed), when the command was answered or got its result meanwhile, or when the attempt is not due yet (the
    task or the sweeper brings it back). Past the send window the command is FAILED instead."""
    now = now or timezone.now()
    command = Command.objects.select_related("partner").filter(pk=command_id).first()
    if command is None:
        return None
    if command.send_until is not None and command.send_until <= now:
        return _give_up(command)
    deadline = max(command.deadline or now, now + _answer_and_result_time())  # this POST's answer may take long
    claimed = (
        _waiting()
        .filter(pk=command_id, send_attempts=attempt - 1, next_attempt_at__lte=now)
        .update(send_attempts=attempt, next_attempt_at=None, deadline=deadline, updated_at=now)
    )
    if not claimed:
        return None
    command.refresh_from_db()
    try:
        url = _commands_url(command.partner)
    except CommandRefused as exc:
        return _delivery_failed(command, exc.message)
    to_party = (command.to_country_code, command.to_party_id) if command.to_country_code else None
    return _send(command, f"{url}/{command.type}", to_party)


def _give_up(command: Command) -> Command | None:
    """FAILED, with the last error: the window passed while the command waited for its next attempt."""
    failed = (
        _waiting()
        .filter(pk=command.pk)
        .update(
            state=Command.State.FAILED,
            error=_not_delivered(command, command.error)[:2000],
            deadline=None,
            next_attempt_at=None,
            updated_at=timezone.now(),
        )
    )
    if not failed:
        return None
    logger.warning("command %s %s not delivered within its send window", command.type, command.reference)
    command.refresh_from_db()
    return command


@dataclass(frozen=True)
class SendDueOutcome:
    enqueued: int
    failed: int


def commands_send_due(*, now: datetime | None = None) -> SendDueOutcome:
    """Periodic: enqueue the attempts that are due but were not made (their task lost with the broker, or never
    handed to it), and fail the commands whose send window has passed. Enqueueing twice is harmless: an attempt
    is claimed once (`command_send`)."""
    from roaming.tasks import command_send_task

    now = now or timezone.now()
    failed = sum(1 for command in _waiting().filter(send_until__lte=now) if _give_up(command) is not None)
    due = list(
        _waiting()
        .filter(next_attempt_at__lte=now - SEND_SWEEP_GRACE, send_until__gt=now)
        .values_list("pk", "send_attempts")
    )
    with transaction.atomic():
        for pk, attempts in due:
            enqueue(command_send_task, pk, attempts + 1)
    return SendDueOutcome(enqueued=len(due), failed=failed)


def _authorization(partner: Partner, token: Token, location_id: str, evse_uid: str | None) -> Authorization:
    return Authorization(
        partner=partner,
        token=token,
        token_uid=token.uid,
        token_type=token.type,
        allowed=Authorization.Allowed.ALLOWED,
        reason=Authorization.Reason.ALLOWED,
        location_id=location_id,
        evse_uids=[evse_uid] if evse_uid else [],
        source=Authorization.Source.COMMAND,
    )


# --- the commands ---------------------------------------------------------------------------------------


def command_start_session(
    token: Token,
    location_id: str,
    evse_uid: str | None = None,
    connector_id: str | None = None,
    *,
    party: Party | None = None,
    retry_of: Command | None = None,
) -> Command:
    """Ask the CPO that owns the location to start charging for `token` (the driver's "start" in the app)."""
    token = _preauthorize(token)
    if connector_id and not evse_uid:
        raise CommandRefused("A connector_id needs its evse_uid.")
    location = _location(location_id, party)
    body = {
        "token": _token_body(location.partner, token),
        "location_id": location.ocpi_id,
        "evse_uid": evse_uid,
        "connector_id": connector_id,
    }
    return _create_and_send(
        partner=location.partner,
        command_type=Command.Type.START_SESSION,
        body=body,
        token=token,
        authorize=_authorization(location.partner, token, location.ocpi_id, evse_uid),
        to_party=(location.country_code, location.party_id),
        retry_of=retry_of,
        location_id=location.ocpi_id,
        evse_uid=evse_uid or "",
        connector_id=connector_id or "",
    )


def command_stop_session(
    session_id: str, partner: Partner, *, token: Token | None = None, retry_of: Command | None = None
) -> Command:
    """Ask the CPO to stop one of its sessions (the session id is the CPO's). `token`: whose app asked for it
    (kept with the command, not sent), so the driver can follow the command."""
    party = (
        ChargingSession.objects.filter(partner=partner, ocpi_id=session_id)
        .values_list("country_code", "party_id")
        .first()
    )
    return _create_and_send(
        partner=partner,
        command_type=Command.Type.STOP_SESSION,
        body={"session_id": session_id},
        token=token,
        to_party=party,
        retry_of=retry_of,
        session_id=session_id,
    )


def command_reserve_now(
    token: Token,
    location_id: str,
    *,
    expiry_date: datetime,
    reservation_id: str | None = None,
    evse_uid: str | None = None,
    party: Party | None = None,
    retry_of: Command | None = None,
) -> Command:
    """Reserve an EVSE (or any at the location) for `token` until `expiry_date`. The same reservation_id at
    the same location replaces an earlier reservation (spec)."""
    token = _preauthorize(token)
    location = _location(location_id, party)
    authorization = _authorization(location.partner, token, location.ocpi_id, evse_uid)
    reservation_id = reservation_id or authorization.reference
    body = {
        "token": _token_body(location.partner, token),
        "expiry_date": expiry_date,
        "reservation_id": reservation_id,
        "location_id": location.ocpi_id,
        "evse_uid": evse_uid,
    }
    return _create_and_send(
        partner=location.partner,
        command_type=Command.Type.RESERVE_NOW,
        body=body,
        token=token,
        authorize=authorization,
        to_party=(location.country_code, location.party_id),
        retry_of=retry_of,
        location_id=location.ocpi_id,
        evse_uid=evse_uid or "",
        reservation_id=reservation_id,
    )


def command_cancel_reservation(
    reservation_id: str,
    partner: Partner,
    *,
    token: Token | None = None,
    to_party: Party | None = None,
    retry_of: Command | None = None,
) -> Command:
    """Cancel a reservation; `token` as for command_stop_session, `to_party` the location's party."""
    return _create_and_send(
        partner=partner,
        command_type=Command.Type.CANCEL_RESERVATION,
        body={"reservation_id": reservation_id},
        token=token,
        to_party=to_party,
        retry_of=retry_of,
        reservation_id=reservation_id,
    )


def command_unlock_connector(
    location_id: str,
    evse_uid: str,
    connector_id: str,
    *,
    party: Party | None = None,
    retry_of: Command | None = None,
) -> Command:
    """Release a stuck cable (support staff only; never driver-triggered, per spec)."""
    location = _location(location_id, party)
    return _create_and_send(
        partner=location.partner,
        command_type=Command.Type.UNLOCK_CONNECTOR,
        body={"location_id": location.ocpi_id, "evse_uid": evse_uid, "connector_id": connector_id},
        to_party=(location.country_code, location.party_id),
        retry_of=retry_of,
        location_id=location.ocpi_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
    )


def command_retry(*, command: Command) -> Command:
    """Send a timed-out or failed command again, with the same parameters, as a new command (its own
    reference and, for START_SESSION and RESERVE_NOW, a new authorization) that names the first. A command
    is retried once; a START_SESSION whose session started after all, or a STOP_SESSION whose session ended,
    is not sent again."""
    if command_sending(command):
        raise CommandRefused("The command is still being sent to the CPO: wait for its outcome.")
    if not command_retryable(command):
        raise CommandRefused(f"Only a timed-out or failed command is sent again ({command_outcome(command).state}).")
    session = command_session(command)
    if command.type == Command.Type.START_SESSION and session is not None:
        raise CommandRefused(f"The charger started session {session.ocpi_id} after all.")
    if command.type == Command.Type.STOP_SESSION and session is not None and not session.is_live:
        raise CommandRefused(f"Session {session.ocpi_id} has ended.")
    party = _party_of(command)
    if command.type == Command.Type.START_SESSION:
        return command_start_session(
            _token_of(command),
            command.location_id,
            command.evse_uid or None,
            command.connector_id or None,
            party=party,
            retry_of=command,
        )
    if command.type == Command.Type.STOP_SESSION:
        return command_stop_session(command.session_id, command.partner, token=command.token, retry_of=command)
    if command.type == Command.Type.RESERVE_NOW:
        expiry = datetime.fromisoformat(command.request["expiry_date"])
        if expiry <= timezone.now():
            raise CommandRefused("The reservation's expiry has passed: make a new reservation.")
        return command_reserve_now(
            _token_of(command),
            command.location_id,
            expiry_date=expiry,
            reservation_id=command.reservation_id,  # the same id replaces the reservation, if it was made
            evse_uid=command.evse_uid or None,
            party=party,
            retry_of=command,
        )
    if command.type == Command.Type.CANCEL_RESERVATION:
        return command_cancel_reservation(
            command.reservation_id, command.partner, token=command.token, to_party=party, retry_of=command
        )
    return command_unlock_connector(
        command.location_id, command.evse_uid, command.connector_id, party=party, retry_of=command
    )


def command_location_party(*, partner: Partner, location_id: str) -> Party | None:
    """The party (country code, party id) of a partner's location: where a command about it is addressed."""
    return Location.objects.filter(partner=partner, ocpi_id=location_id).values_list("country_code", "party_id").first()


def _party_of(command: Command) -> Party | None:
    if command.location_id:
        return command_location_party(partner=command.partner, location_id=command.location_id)
    if command.type == Command.Type.CANCEL_RESERVATION:
        reservation = (
            Command.objects.filter(
                partner=command.partner, type=Command.Type.RESERVE_NOW, reservation_id=command.reservation_id
            )
            .exclude(location_id="")
            .first()
        )
        if reservation is not None:
            return command_location_party(partner=command.partner, location_id=reservation.location_id)
    return None


def _token_of(command: Command) -> Token:
    if command.token is None:
        raise CommandRefused("The command names no token.")
    return command.token


# --- what comes back ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultOutcome:
    stored: bool
    note: str = ""


def command_result_received(*, command: Command, result: str, message: str = "") -> ResultOutcome:
    """Store the CPO's CommandResult, once.

    A second result is ignored, with two exceptions: one arriving after our own TIMEOUT replaces it (the CPO
    was late, not silent), and a CANCELED_RESERVATION after an accepted RESERVE_NOW is the CPO cancelling the
    reservation (spec).
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Command.objects.select_for_update().get(pk=command.pk)
        cancels_reservation = (
            locked.type == Command.Type.RESERVE_NOW
            and locked.result == Command.Result.ACCEPTED
            and result == Command.Result.CANCELED_RESERVATION
        )
        if locked.result and not locked.result_local and not cancels_reservation:
            return ResultOutcome(False, f"Command already has result {locked.result}; ignored.")
        locked.result = result
        locked.result_message = message
        locked.result_local = False
        locked.result_at = now
        locked.next_attempt_at = None  # it reached the CPO: no further POST
        locked.state = Command.State.DONE  # even after FAILED: the POST did reach the CPO after all
        locked.save()
    logger.info("command %s %s: result %s", command.type, command.reference, result)
    return ResultOutcome(True)


def commands_time_out(*, now: datetime | None = None) -> int:
    """Record TIMEOUT on commands whose result did not come by their deadline (periodic). A result that comes
    later still replaces it, and a session that starts anyway is still linked (field notes 4). A command waiting
    for its next POST is `commands_send_due`'s: it was not delivered, so it FAILS there, it does not time out."""
    now = now or timezone.now()
    return Command.objects.filter(
        state__in=(Command.State.PENDING, Command.State.SENT), result="", deadline__lte=now, next_attempt_at=None
    ).update(
        result=Command.Result.TIMEOUT,
        result_local=True,
        result_at=now,
        state=Command.State.DONE,
        result_message="No CommandResult by the deadline.",
        updated_at=now,
    )
