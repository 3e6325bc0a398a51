"""Charging from the app: start and stop, the command's state, the live session, reserve and cancel.

Starting, stopping, reserving and cancelling are commands to the charger's operator (CPO), sent at once. What the
operator answers at once decides the response:
- it refused, or could not be reached: 502 (`partner_error`), or 504 (`partner_timeout`) when it did not answer
  in time; nothing was started, and the app may try again (a new Idempotency-Key);
- it certainly did not get the command (its server refused the connection, or answered 503 or 429): 202 with the
  command `pending`, reason `sending`, while we send it again for up to a minute; it then goes on as below, or
  ends `failed` (`operator_unreachable`);
- it accepted the command: 202 with the command, whose `state` the app then polls (GET the command): the charger's
  own outcome comes later, as `accepted`, `rejected`, `failed` or `timed_out` with a `reason` in the app's words.
Refusals of ours, before anything is sent, are 409 (the state does not allow it: no app token, a session that is
not running) or 422 (the charger cannot do it: no remote start, not reservable).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from api import etag, idempotency
from api.errors import Conflict, PartnerError, Unprocessable
from api.etag import etag_response, not_modified, version_etag
from api.idempotency import idempotent
from api.schema import errors
from api.views.base import DriverView
from billing.estimates import EstimateError, session_price_so_far
from roaming.models import ChargingSession, Command, Evse
from roaming.selectors import (
    command_delivery_timed_out,
    command_outcome,
    command_session,
    driver_command,
    driver_session,
    driver_session_live,
    evse_to_charge,
)
from roaming.services.charging import (
    ChargingRefused,
    charging_reservation_cancel,
    charging_reserve,
    charging_start,
    charging_stop,
)

_HOW = (__doc__ or "").split("\n\n", 1)[1]


class PartnerTimeout(APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The charger's operator did not answer in time."
    default_code = "partner_timeout"


# --- the command ------------------------------------------------------------------------------------------

_ACTIONS: dict[str, str] = {
    Command.Type.START_SESSION: "start",
    Command.Type.STOP_SESSION: "stop",
    Command.Type.RESERVE_NOW: "reserve",
    Command.Type.CANCEL_RESERVATION: "cancel_reservation",
}


class CommandOut(serializers.Serializer):
    id = serializers.UUIDField(help_text="Poll GET /charging/commands/{id} with it.")
    action = serializers.ChoiceField(choices=sorted(_ACTIONS.values()))
    state = serializers.ChoiceField(
        choices=["pending", "accepted", "rejected", "failed", "timed_out", "cancelled"],
        help_text="`pending` until the charger answers (reason `sending` while the operator could not be reached "
        "and the command is sent again, for up to a minute); the others are final (`cancelled`: a reservation the "
        "operator cancelled).",
    )
    reason = serializers.CharField(
        allow_null=True,
        help_text="`sending` while pending and sent again; else why, when not accepted: `charger_occupied`, "
        "`charger_out_of_order`, `refused`, `not_supported`, `charger_failed`, `charger_timeout`, `operator_timeout`, "
        "`operator_unreachable`, `unknown_session`, `unknown_reservation`, `reservation_cancelled`.",
    )
    message = serializers.CharField(help_text="A sentence the app may show as is.")
    session_id = serializers.IntegerField(
        allow_null=True, help_text="The session it started or stopped, once the operator reported it."
    )
    location_id = serializers.CharField(allow_blank=True, help_text="The operator's location id.")
    evse_uid = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


def command_data(command: Command) -> dict[str, Any]:
    outcome = command_outcome(command)
    session = command_session(command)
    return CommandOut(
        {
            "id": command.reference,
            "action": _ACTIONS.get(command.type, command.type.lower()),
            "state": outcome.state,
            "reason": outcome.reason or None,
            "message": outcome.message,
            "session_id": session.pk if session is not None else None,
            "location_id": command.location_id,
            "evse_uid": command.evse_uid,
            "created_at": command.created_at,
        }
    ).data


def _sent(command: Command) -> Response:
    """202 with the command the operator took on; its refusal or silence as an error (module docstring)."""
    outcome = command_outcome(command)
    if command_delivery_timed_out(command):
        raise PartnerTimeout(outcome.message, code="operator_timeout")
    if command.state == Command.State.FAILED or (command.response and command.response != Command.Response.ACCEPTED):
        raise PartnerError(outcome.message, code=outcome.reason or "partner_error")
    return Response(
        command_data(command), status=status.HTTP_202_ACCEPTED, headers={"Location": f"commands/{command.reference}"}
    )


def _refused(exc: ChargingRefused) -> APIException:
    return (Conflict if exc.conflict else Unprocessable)(exc.message, code=exc.code)


_COMMAND_EXAMPLE = {
    "id": "5f0c2a9e-3b7d-4e8f-9a51-2c6d8e1f4a70",
    "action": "start",
    "state": "pending",
    "reason": None,
    "message": "Waiting for the charger.",
    "session_id": None,
    "location_id": "LOC00001",
    "evse_uid": "LOC00001-1",
    "created_at": "2026-03-02T09:00:00Z",
}
_START_ERRORS = {
    **errors(400, 401, 403, 404, 409, 422, 429, 502, 504),
    409: OpenApiResponse(
        errors(409)[409].response,
        description="Not now: no active app token (`no_app_token`), or the account may not charge "
        "(`token_not_allowed`); or the same Idempotency-Key is still in progress (`in_progress`).",
        examples=[
            OpenApiExample(
                "No app token",
                value={
                    "error": {
                        "type": "conflict",
                        "code": "no_app_token",
                        "message": "Your account has no active app token to charge with.",
                    }
                },
            )
        ],
    ),
    502: OpenApiResponse(
        errors(502)[502].response,
        description="The operator refused (`refused`, `not_supported`) or could not be reached "
        "(`operator_unreachable`). Nothing was started.",
        examples=[
            OpenApiExample(
                "Refused",
                value={
                    "error": {"type": "partner_error", "code": "refused", "message": "The charger's operator refused."}
                },
            )
        ],
    ),
    504: OpenApiResponse(
        errors(504)[504].response,
        description="The operator did not answer in time (`operator_timeout`). Nothing was started.",
        examples=[
            OpenApiExample(
                "Timed out",
                value={
                    "error": {
                        "type": "partner_timeout",
                        "code": "operator_timeout",
                        "message": "The charger's operator did not answer in time.",
                    }
                },
            )
        ],
    ),
}


class _Command(DriverView):
    """A POST that sends a command: throttled (`charging`) and idempotent."""

    throttle_classes = (ScopedRateThrottle,)
    throttle_scope = "charging"


class EvseIn(serializers.Serializer):
    location_id = serializers.IntegerField(required=False, help_text="The location's id in this API.")
    evse_uid = serializers.CharField(max_length=36, required=False, help_text="With `location_id`.")
    evse_id = serializers.CharField(
        max_length=48, required=False, help_text="Instead: the EVSE id printed on the charger, e.g. NL*SIM*E00001."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("evse_id") and not (attrs.get("location_id") and attrs.get("evse_uid")):
            raise serializers.ValidationError("Give `evse_id`, or `location_id` and `evse_uid`.")
        return attrs

    def evse(self) -> Evse:
        data = self.validated_data
        found = evse_to_charge(
            location_pk=data.get("location_id"), evse_uid=data.get("evse_uid", ""), evse_id=data.get("evse_id", "")
        )
        if found is None:
            raise NotFound("No such charger.")
        return found


class StartIn(EvseIn):
    connector_id = serializers.CharField(max_length=36, required=False, allow_blank=True)


class StartView(_Command):
    @extend_schema(
        operation_id="charging_start",
        summary="Start charging",
        description="Sends the charger's operator a start on your app token. 202: the operator took it on; poll the "
        "command until it is `accepted` (then `session_id` is your session) or something else. " + _HOW,
        tags=["Charging"],
        parameters=[idempotency.PARAMETER],
        request=StartIn,
        responses={202: CommandOut, **_START_ERRORS},
        examples=[
            OpenApiExample("By location and EVSE", value={"location_id": 42, "evse_uid": "LOC00001-1"}),
            OpenApiExample("By the EVSE id on the charger", value={"evse_id": "NL*SIM*E00001"}),
            OpenApiExample("Sent", value=_COMMAND_EXAMPLE, response_only=True, status_codes=["202"]),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        given = StartIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            command = charging_start(
                driver=self.driver(request),
                evse=given.evse(),
                connector_id=given.validated_data.get("connector_id", ""),
            )
        except ChargingRefused as exc:
            raise _refused(exc) from exc
        return _sent(command)


class StopView(_Command):
    @extend_schema(
        operation_id="charging_stop",
        summary="Stop charging",
        description="Sends the operator a stop for your running session. 202: poll the command; the session then "
        "ends and its cost is final once the operator's record (CDR) arrives (see History).",
        tags=["Charging"],
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={202: CommandOut, **_START_ERRORS},
        examples=[
            OpenApiExample(
                "Sent",
                value={**_COMMAND_EXAMPLE, "action": "stop", "session_id": 1234},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    @idempotent
    def post(self, request: Request, session_id: int) -> Response:
        session = driver_session(self.driver(request), session_id)
        if session is None:
            raise NotFound("No such session.")
        try:
            command = charging_stop(driver=self.driver(request), session=session)
        except ChargingRefused as exc:
            raise _refused(exc) from exc
        return _sent(command)


class CommandView(DriverView):
    @extend_schema(
        operation_id="charging_command_get",
        summary="What became of a start, stop or reservation",
        description="Poll every few seconds with If-None-Match: 304 while nothing changed.",
        tags=["Charging"],
        parameters=[etag.PARAMETER],
        responses={
            200: CommandOut,
            304: OpenApiResponse(description="Not changed since the ETag."),
            **errors(401, 403, 404),
        },
        examples=[
            OpenApiExample(
                "Accepted",
                value={
                    **_COMMAND_EXAMPLE,
                    "state": "accepted",
                    "message": "The charger accepted.",
                    "session_id": 1234,
                },
                response_only=True,
            ),
            OpenApiExample(
                "Charger occupied",
                value={
                    **_COMMAND_EXAMPLE,
                    "state": "rejected",
                    "reason": "charger_occupied",
                    "message": "The charger is in use by someone else.",
                },
                response_only=True,
            ),
            OpenApiExample(
                "Timed out",
                value={
                    **_COMMAND_EXAMPLE,
                    "state": "timed_out",
                    "reason": "charger_timeout",
                    "message": "The charger did not answer in time.",
                },
                response_only=True,
            ),
        ],
    )
    def get(self, request: Request, command_id: str) -> Response:
        command = driver_command(self.driver(request), command_id)
        if command is None:
            raise NotFound("No such command.")
        return etag_response(request, command_data(command))


# --- the live session -------------------------------------------------------------------------------------

_STATUSES = {
    "PENDING": "starting",
    "ACTIVE": "charging",
    "COMPLETED": "finished",
    "INVALID": "invalid",
    "RESERVATION": "reserved",
}


class CostLineOut(serializers.Serializer):
    kind = serializers.CharField(help_text="cost, markup, per_kwh, energy, time, session_fee, idle_fee")
    description = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6, coerce_to_string=True)
    unit_price = serializers.CharField(help_text="Excl. VAT.")
    amount = serializers.CharField(help_text="Excl. VAT, full precision.")


class CostOut(serializers.Serializer):
    currency = serializers.CharField()
    excl_vat = serializers.CharField(help_text="Rounded to cents, as the invoice line will show it.")
    vat_rate = serializers.CharField(help_text="Percent, of your country.")
    vat = serializers.CharField()
    incl_vat = serializers.CharField(help_text="What you pay so far.")
    plan = serializers.CharField(help_text="Your plan that prices this session (the one in force at its start).")
    lines = CostLineOut(many=True)


class LocationRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    address = serializers.CharField()
    city = serializers.CharField()


class LiveSessionOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=sorted(_STATUSES.values()))
    is_live = serializers.BooleanField(help_text="Still starting, charging or reserved.")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(help_text="When the operator last reported on it.")
    duration_seconds = serializers.IntegerField(help_text="From the start to `ended_at`, or to `updated_at`.")
    energy_kwh = serializers.CharField()
    location = LocationRefOut(allow_null=True)
    evse_uid = serializers.CharField()
    connector_id = serializers.CharField()
    cost = CostOut(allow_null=True, help_text="Null when it cannot be priced yet (`cost_note` says why).")
    cost_note = serializers.CharField(allow_blank=True)


#: How long a session's cost so far is kept for the polls that follow. It is keyed by the session's last write, so
#: a new report from the operator is priced at once; between reports the cost changes only when staff edit the
#: plan's prices or the CPO its tariff mid-session (a driver's plan switch applies to the next session), which
#: this bounds. Each window prices every live session once more: at 5 minutes that was 1 poll in 60 at a poll
#: every 5 s, enough to set the poll's p99 (bench/live_session_bench.py).
COST_CACHE_SECONDS = 1800

_clock = time.time  # tests move it


def _cost_window(session: ChargingSession) -> int:
    """Which COST_CACHE_SECONDS window this poll falls in: the cost so far is priced again in each, and the ETag
    changes with it. Offset per session, so that the windows of many sessions do not turn over at once."""
    return int(_clock() + session.pk % COST_CACHE_SECONDS) // COST_CACHE_SECONDS


def _cost_so_far(session: ChargingSession) -> tuple[dict[str, Any] | None, str]:
    """The session's cost so far for the app, and why not when it has none. Pricing takes seven queries and
    the tariff engine; an app polls every few seconds while the operator reports every few minutes, so the
    answer is kept in the cache per version of the session (its `updated_at`) and cost window."""
    key = f"api:session-cost:{session.pk}:{session.updated_at.timestamp()}:{_cost_window(session)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        whole = ChargingSession.objects.select_related("location", "driver").get(pk=session.pk)
        price = session_price_so_far(session=whole)
    except EstimateError as exc:
        answer: tuple[dict[str, Any] | None, str] = (None, str(exc))
    else:
        answer = (
            {
                "currency": price.currency,
                "excl_vat": f"{price.totals.excl_vat:f}",
                "vat_rate": f"{price.vat_rate.normalize():f}",
                "vat": f"{price.totals.vat:f}",
                "incl_vat": f"{price.totals.incl_vat:f}",
                "plan": price.plan.name,
                "lines": price.retail.lines_json(),
            },
            "",
        )
    cache.set(key, answer, COST_CACHE_SECONDS)
    return answer


def live_session_etag(session: ChargingSession) -> str:
    """The ETag of the session's live answer, from what the answer is built of: the session's version (every
    write moves `updated_at`), its location's text and the cost window. Cheaper than building the answer: the
    poll that changed nothing (most of them) is answered from the row alone."""
    location = session.location
    where = None if location is None else (location.pk, location.name, location.address, location.city)
    return version_etag(session.pk, session.updated_at.timestamp(), where, _cost_window(session))


def live_session_data(session: ChargingSession) -> dict[str, Any]:
    """The session as the app shows it, with its cost so far under the driver's plan (incl. VAT)."""
    until = session.end_date_time or session.last_updated
    cost, note = _cost_so_far(session)
    location = session.location
    return LiveSessionOut(
        {
            "id": session.pk,
            "status": _STATUSES.get(session.status, session.status.lower()),
            "is_live": session.is_live,
            "started_at": session.start_date_time,
            "ended_at": session.end_date_time,
            "updated_at": session.last_updated,
            "duration_seconds": max(0, int((until - session.start_date_time).total_seconds())),
            "energy_kwh": f"{session.kwh.normalize():f}",
            "location": None
            if location is None
            else {"id": location.pk, "name": location.name, "address": location.address, "city": location.city},
            "evse_uid": session.evse_uid,
            "connector_id": session.connector_id,
            "cost": cost,
            "cost_note": note,
        }
    ).data


LIVE_EXAMPLE = {
    "id": 1234,
    "status": "charging",
    "is_live": True,
    "started_at": "2026-03-02T09:00:00Z",
    "ended_at": None,
    "updated_at": "2026-03-02T09:30:00Z",
    "duration_seconds": 1800,
    "energy_kwh": "5.5",
    "location": {"id": 42, "name": "Central Garage", "address": "Stationsplein 1", "city": "Amsterdam"},
    "evse_uid": "LOC00001-1",
    "connector_id": "1",
    "cost": {
        "currency": "EUR",
        "excl_vat": "2.48",
        "vat_rate": "21",
        "vat": "0.52",
        "incl_vat": "3.00",
        "plan": "Pay as you go",
        "lines": [
            {
                "kind": "cost",
                "description": "charging (CPO price)",
                "quantity": "1",
                "unit_price": "2.2",
                "amount": "2.2",
            },
            {
                "kind": "markup",
                "description": "markup 12.5 %",
                "quantity": "2.2",
                "unit_price": "0.125",
                "amount": "0.275",
            },
        ],
    },
    "cost_note": "",
}


class LiveSessionView(DriverView):
    @extend_schema(
        operation_id="charging_session_get",
        summary="Your session, live: energy, duration, cost so far, status",
        description="Poll every few seconds with If-None-Match: 304 while the operator reported nothing new. The "
        "figures are as of the operator's last report (`updated_at`); the cost is what you pay under your plan.",
        tags=["Charging"],
        parameters=[etag.PARAMETER],
        responses={
            200: LiveSessionOut,
            304: OpenApiResponse(description="Not changed since the ETag."),
            **errors(401, 403, 404),
        },
        examples=[OpenApiExample("Charging", value=LIVE_EXAMPLE, response_only=True)],
    )
    def get(self, request: Request, session_id: int) -> Response:
        session = driver_session_live(self.driver(request), session_id)
        if session is None:
            raise NotFound("No such session.")
        tag = live_session_etag(session)
        return not_modified(request, tag) or Response(live_session_data(session), headers={"ETag": tag})


# --- reservations -----------------------------------------------------------------------------------------


class ReserveIn(EvseIn):
    expires_at = serializers.DateTimeField(help_text="Until when (ISO 8601); the operator may limit it.")


class ReserveView(_Command):
    @extend_schema(
        operation_id="charging_reserve",
        summary="Reserve a charger",
        description="Only where the operator says the charger is reservable (otherwise 422 `not_reservable`). "
        "202: poll the command; `accepted` means it is yours until `expires_at`. Cancel with the command's id.",
        tags=["Charging"],
        parameters=[idempotency.PARAMETER],
        request=ReserveIn,
        responses={202: CommandOut, **_START_ERRORS},
        examples=[
            OpenApiExample(
                "For half an hour",
                value={"location_id": 42, "evse_uid": "LOC00001-1", "expires_at": "2026-03-02T09:30:00Z"},
            ),
            OpenApiExample(
                "Sent", value={**_COMMAND_EXAMPLE, "action": "reserve"}, response_only=True, status_codes=["202"]
            ),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        given = ReserveIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            command = charging_reserve(
                driver=self.driver(request), evse=given.evse(), expiry=given.validated_data["expires_at"]
            )
        except ChargingRefused as exc:
            raise _refused(exc) from exc
        return _sent(command)


class CancelReservationView(_Command):
    @extend_schema(
        operation_id="charging_reservation_cancel",
        summary="Cancel a reservation",
        description="`reservation_id` is the id of the reserve command. 202: poll the new command.",
        tags=["Charging"],
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={202: CommandOut, **_START_ERRORS},
        examples=[
            OpenApiExample(
                "Sent",
                value={**_COMMAND_EXAMPLE, "action": "cancel_reservation"},
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    @idempotent
    def post(self, request: Request, reservation_id: str) -> Response:
        reservation = driver_command(self.driver(request), reservation_id)
        if reservation is None or reservation.type != Command.Type.RESERVE_NOW:
            raise NotFound("No such reservation.")
        try:
            command = charging_reservation_cancel(driver=self.driver(request), reservation=reservation)
        except ChargingRefused as exc:
            raise _refused(exc) from exc
        return _sent(command)
