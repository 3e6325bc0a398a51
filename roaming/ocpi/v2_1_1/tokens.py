"""Tokens and commands, 2.1.1: a Token names no party and says `auth_id` (2.2: `contract_id`); TokenType is only
RFID or OTHER; LocationReferences may list `connector_ids`; a command is answered, synchronously and at its
`response_url`, with a CommandResponse that has only a `result` (no timeout, no message).

Reference: OCPI 2.1.1-d2 mod_tokens.md, mod_commands.md (the d2 erratum names the result type).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from ..v2_2_1.tokens import WhitelistType
from ..v2_2_1.types import (
    URL,
    CiString36,
    DateTime,
    OcpiModel,
    OpenEnum,
    OptionalList,
    String2,
    String64,
)


class TokenType(StrEnum):
    OTHER = "OTHER"
    RFID = "RFID"


class Token(OcpiModel):
    uid: CiString36
    type: OpenEnum[TokenType]
    auth_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    valid: bool
    whitelist: OpenEnum[WhitelistType]
    language: String2 | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    location_id: CiString36
    evse_uids: OptionalList[CiString36] = Field(default_factory=list)
    connector_ids: OptionalList[CiString36] = Field(default_factory=list)


class CommandResponseType(StrEnum):
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResponse(OcpiModel):
    result: OpenEnum[CommandResponseType]


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: CiString36
    evse_uid: CiString36 | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: CiString36


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: int
    location_id: CiString36
    evse_uid: CiString36 | None = None


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: CiString36
    evse_uid: CiString36
    connector_id: CiString36
