"""Commands module: what the eMSP POSTs to the CPO, and what comes back.

Reference: OCPI 2.2.1 mod_commands.asciidoc. The CPO's synchronous answer is a `CommandResponse` inside
the envelope; the charger's verdict arrives later as a bare `CommandResult` POSTed to `response_url`.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .tokens import Token
from .types import URL, CiString36, DateTime, DisplayText, OcpiModel, OpenEnum, OptionalList


class CommandType(StrEnum):
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


class CommandResponse(OcpiModel):
    result: OpenEnum[CommandResponseType]
    timeout: int  # seconds to wait for the CommandResult
    message: OptionalList[DisplayText] = Field(default_factory=list)


class CommandResult(OcpiModel):
    result: OpenEnum[CommandResultType]
    message: OptionalList[DisplayText] = Field(default_factory=list)


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: CiString36


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString36
    location_id: CiString36
    evse_uid: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None  # required when connector_id is given
    connector_id: CiString36 | None = None
    authorization_reference: CiString36 | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: CiString36


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
