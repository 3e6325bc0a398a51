"""Sessions module: a charging session as it runs, and charging preferences.

Reference: OCPI 2.2.1 mod_sessions.asciidoc. In a PATCH, `charging_periods` are appended to the
stored list (never replace it); only a PUT replaces them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .cdrs import AuthMethod, CdrToken, ChargingPeriod
from .tokens import ProfileType
from .types import (
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    Number,
    OcpiModel,
    OpenEnum,
    OptionalList,
    PatchModel,
    Price,
    String3,
    String255,
)

__all__ = [
    "ChargingPreferences",
    "ChargingPreferencesResponse",
    "ProfileType",
    "Session",
    "SessionPatch",
    "SessionStatus",
]


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"  # the spec text says "RESERVED"; the enum value is RESERVATION


class ChargingPreferencesResponse(StrEnum):
    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


class ChargingPreferences(OcpiModel):
    """Body of PUT {sessions_url}/{session_id}/charging_preferences (answer data: the response enum)."""

    profile_type: OpenEnum[ProfileType]
    departure_time: DateTime | None = None
    energy_need: Number | None = None  # kWh
    discharge_allowed: bool | None = None  # absent means false


class Session(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    id: CiString36
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: OpenEnum[AuthMethod]
    authorization_reference: CiString36 | None = None
    location_id: CiString36
    evse_uid: CiString36  # "#NA" allowed for a reservation without EVSE
    connector_id: CiString36  # likewise
    meter_id: String255 | None = None
    currency: String3
    charging_periods: OptionalList[ChargingPeriod] = Field(default_factory=list)
    total_cost: Price | None = None  # absent is not "free"; 0 is
    status: OpenEnum[SessionStatus]
    last_updated: DateTime


class SessionPatch(PatchModel):
    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    id: CiString36 | None = None
    start_date_time: DateTime | None = None
    end_date_time: DateTime | None = None
    kwh: Number | None = None
    cdr_token: CdrToken | None = None
    auth_method: OpenEnum[AuthMethod] | None = None
    authorization_reference: CiString36 | None = None
    location_id: CiString36 | None = None
    evse_uid: CiString36 | None = None
    connector_id: CiString36 | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: list[ChargingPeriod] | None = None  # to be APPENDED to the stored periods
    total_cost: Price | None = None
    status: OpenEnum[SessionStatus] | None = None
