"""Charging preferences (OCPI 2.2.1): the driver's wishes for a running session, sent to the CPO.

The driver says how they want to charge (CHEAP, FAST, GREEN or REGULAR), and may say when they leave and
how much energy they need. We PUT that to `{CPO sessions Sender}/{session_id}/charging_preferences`; the CPO
answers at once whether it can (ACCEPTED, DEPARTURE_REQUIRED, ...). Only EVSEs with the
CHARGING_PREFERENCES_CAPABLE capability take them, and only OCPI 2.2 has them. Each request is stored before
it is sent, with the answer or why there was none. A PUT is idempotent, so the client retries it on a
transport error like any other, and a request whose sender died before the PUT is sent by a periodic sweep.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from roaming.models import ChargingPreferencesRequest, ChargingSession, Evse, Partner, PartnerEndpoint
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.v2_2_1.types import describe_validation_error
from roaming.ocpi.versions import wire_for

logger = logging.getLogger("roaming.sessions")

CAPABILITY = "CHARGING_PREFERENCES_CAPABLE"
# A request still PENDING this long after it was stored was never sent (its sender bounds the PUT at
# OCPI_CLIENT_TIMEOUT per attempt, a few attempts): `preferences_send_stale` sends it.
RESEND_AFTER = timedelta(minutes=2)


class PreferencesRefused(Exception):
    """Refused here, before anything was sent: the session has ended, the CPO or the EVSE takes none."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _evse_takes_preferences(session: ChargingSession) -> bool | None:
    """Whether the session's EVSE, as the CPO published it, has the capability; None if we don't hold it."""
    if session.location_id is None:
        return None
    capabilities = (
        Evse.objects.filter(location_id=session.location_id, uid=session.evse_uid)
        .values_list("capabilities", flat=True)
        .first()
    )
    return None if capabilities is None else CAPABILITY in capabilities


def _preferences_url(session: ChargingSession) -> str:
    partner = session.partner
    if partner.status != Partner.Status.REGISTERED:
        raise PreferencesRefused(f"{partner} is not a registered partner.")
    if not partner.version.startswith("2.2"):
        raise PreferencesRefused(f"OCPI {partner.version or '(no version)'} has no charging preferences.")
    url = partner.endpoint_url("sessions", PartnerEndpoint.InterfaceRole.SENDER)
    if not url:
        raise PreferencesRefused(f"{partner} publishes no sessions Sender endpoint to send preferences to.")
    return f"{url.rstrip('/')}/{session.ocpi_id}/charging_preferences"


def session_preferences_send(
    session: ChargingSession,
    *,
    profile_type: str,
    departure_time: datetime | None = None,
    energy_need: Decimal | None = None,
    discharge_allowed: bool = False,
) -> ChargingPreferencesRequest:
    """Send the driver's charging preferences for a live session to its CPO, and store what it answered.

    Raises `PreferencesRefused` when nothing can be sent; a CPO that cannot be reached, or that takes no
    preferences for the EVSE after all, gives a stored request in state FAILED or NOT_SUPPORTED.
    """
    if not session.is_live:
        raise PreferencesRefused(f"Session {session.ocpi_id} is {session.status}: preferences are for live sessions.")
    url = _preferences_url(session)
    if energy_need is not None and energy_need < 0:
        raise PreferencesRefused("Invalid charging preferences: energy_need must not be negative.")
    if _evse_takes_preferences(session) is False:
        raise PreferencesRefused(f"EVSE {session.evse_uid} does not take charging preferences.")
    body = _body(
        partner=session.partner,
        profile_type=profile_type,
        departure_time=departure_time,
        energy_need=energy_need,
        discharge_allowed=discharge_allowed,
    )
    request = ChargingPreferencesRequest.objects.create(
        session=session,
        profile_type=profile_type,
        departure_time=departure_time,
        energy_need=energy_need,
        discharge_allowed=discharge_allowed,
    )
    return _deliver(request, url, body)


def preferences_send_stale(*, now: datetime | None = None) -> int:
    """Deliver the requests stored but never answered nor failed (periodic): the process that stored one ended
    before its PUT did (a deploy, a crash). The row is written before the PUT, so this is the outbox of
    charging preferences; a PUT is idempotent, so sending one twice is harmless. A request overtaken by a newer
    one for the same session, or whose session has ended, is recorded FAILED instead: sending it now would
    override what the driver asked for since. Returns how many were settled."""
    now = now or timezone.now()
    stale = ChargingPreferencesRequest.objects.filter(
        state=ChargingPreferencesRequest.State.PENDING, created_at__lte=now - RESEND_AFTER
    )
    settled = 0
    for pk in stale.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            # Locked while it is sent: two sweeps never send the same request (SQLite takes them one by one).
            request = (
                ChargingPreferencesRequest.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("session__partner")
                .filter(pk=pk, state=ChargingPreferencesRequest.State.PENDING)
                .first()
            )
            if request is None:
                continue
            _resend(request)
            settled += 1
    return settled


def _resend(request: ChargingPreferencesRequest) -> None:
    session = request.session
    failed = ChargingPreferencesRequest.State.FAILED
    if session.preference_requests.filter(pk__gt=request.pk).exists():
        _record(request, state=failed, error="Not delivered, and overtaken by a newer request for the session.")
        return
    if not session.is_live:
        _record(request, state=failed, error=f"Not delivered before the session ended ({session.status}).")
        return
    try:
        url = _preferences_url(session)
        body = _body(
            partner=session.partner,
            profile_type=request.profile_type,
            departure_time=request.departure_time,
            energy_need=request.energy_need,
            discharge_allowed=request.discharge_allowed,
        )
    except PreferencesRefused as exc:
        _record(request, state=failed, error=exc.message)
        return
    logger.warning("session %s: charging preferences %s sent again (never delivered)", session.ocpi_id, request.pk)
    _deliver(request, url, body)


def _body(
    *,
    partner: Partner,
    profile_type: str,
    departure_time: datetime | None,
    energy_need: Decimal | None,
    discharge_allowed: bool,
) -> dict[str, Any]:
    """The ChargingPreferences object as the spec has it, or PreferencesRefused naming what is wrong."""
    wire = wire_for(partner)
    if wire.ChargingPreferences is None:
        raise PreferencesRefused(f"{partner} speaks OCPI {wire.version}, which has no charging preferences.")
    try:
        body = wire.ChargingPreferences.model_validate(
            {
                "profile_type": profile_type,
                "departure_time": departure_time,
                "energy_need": energy_need,
                "discharge_allowed": discharge_allowed or None,
            }
        ).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        raise PreferencesRefused(f"Invalid charging preferences: {describe_validation_error(exc)}") from exc
    if body["profile_type"] not in ChargingPreferencesRequest.ProfileType.values:
        raise PreferencesRefused(f"Unknown profile type {profile_type!r}.")
    return body


def _deliver(request: ChargingPreferencesRequest, url: str, body: dict[str, Any]) -> ChargingPreferencesRequest:
    """PUT the stored request to the CPO and record its answer, or why there was none."""
    session = request.session
    client = OcpiClient.for_partner(session.partner, to_party=(session.country_code, session.party_id))
    try:
        answer = client.put(url, body, module="sessions")
    except OcpiClientError as exc:
        # The spec's answer for an EVSE without the capability: HTTP 404 with OCPI 2001.
        not_supported = exc.http_status == 404 and exc.ocpi_status == 2001
        state = (
            ChargingPreferencesRequest.State.NOT_SUPPORTED if not_supported else ChargingPreferencesRequest.State.FAILED
        )
        return _record(request, state=state, error=str(exc))
    if not isinstance(answer.data, str) or not answer.data:
        return _record(
            request,
            state=ChargingPreferencesRequest.State.FAILED,
            error=f"The CPO's answer is not a ChargingPreferencesResponse: {answer.data!r}",
        )
    if answer.data not in ChargingPreferencesRequest.Response.values:
        logger.warning("session %s: unknown ChargingPreferencesResponse %r kept", session.ocpi_id, answer.data)
    return _record(request, state=ChargingPreferencesRequest.State.ANSWERED, response=answer.data[:32])


def _record(
    request: ChargingPreferencesRequest, *, state: str, response: str = "", error: str = ""
) -> ChargingPreferencesRequest:
    request.state, request.response, request.error = state, response, error[:2000]
    request.answered_at = timezone.now()
    request.save(update_fields=["state", "response", "error", "answered_at"])
    logger.info(
        "session %s: charging preferences %s -> %s", request.session.ocpi_id, request.profile_type, response or state
    )
    return request
