"""Sessions and CDRs, 2.1.1: no country_code/party_id and no `cdr_token`; the token is named by its `auth_id` (our
contract id), the place by a whole Location holding only the EVSE and connector used, and costs are plain numbers
excl. VAT. Sessions say `start_datetime`/`end_datetime`, CDRs `start_date_time`/`stop_date_time`.

Reference: OCPI 2.1.1-d2 mod_sessions.md, mod_cdrs.md.
"""

from __future__ import annotations

from pydantic import Field

from ..v2_2_1.cdrs import AuthMethod, ChargingPeriod
from ..v2_2_1.sessions import SessionStatus
from ..v2_2_1.types import (
    CiString36,
    DateTime,
    NonEmptyList,
    Number,
    OcpiModel,
    OpenEnum,
    OptionalList,
    String3,
    String255,
)
from .locations import Location
from .tariffs import Tariff
from .types import Patch211


class Session(OcpiModel):
    id: CiString36
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: CiString36
    auth_method: OpenEnum[AuthMethod]
    location: Location
    meter_id: String255 | None = None
    currency: String3
    charging_periods: OptionalList[ChargingPeriod] = Field(default_factory=list)
    total_cost: Number | None = None
    status: OpenEnum[SessionStatus]
    last_updated: DateTime


class SessionPatch(Patch211):
    id: CiString36 | None = None
    start_datetime: DateTime | None = None
    end_datetime: DateTime | None = None
    kwh: Number | None = None
    auth_id: CiString36 | None = None
    auth_method: OpenEnum[AuthMethod] | None = None
    location: Location | None = None
    meter_id: String255 | None = None
    currency: String3 | None = None
    charging_periods: list[ChargingPeriod] | None = None  # appended, as in 2.2.1
    total_cost: Number | None = None
    status: OpenEnum[SessionStatus] | None = None


class CDR(OcpiModel):
    id: CiString36
    start_date_time: DateTime
    stop_date_time: DateTime
    auth_id: CiString36
    auth_method: OpenEnum[AuthMethod]
    location: Location
    meter_id: String255 | None = None
    currency: String3
    tariffs: OptionalList[Tariff] = Field(default_factory=list)
    charging_periods: NonEmptyList[ChargingPeriod]
    total_cost: Number
    total_energy: Number
    total_time: Number
    total_parking_time: Number | None = None
    remark: String255 | None = None
    last_updated: DateTime
