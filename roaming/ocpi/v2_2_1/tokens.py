"""Tokens module: the eMSP's tokens as published to CPOs, and real-time authorization.

Reference: OCPI 2.2.1 mod_tokens.asciidoc. `ProfileType` belongs to the Sessions module in the spec;
it lives here because `Token.default_profile_type` needs it and sessions import tokens, not the
other way round (`sessions` re-exports it).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from .types import (
    CiString2,
    CiString3,
    CiString36,
    DateTime,
    DisplayText,
    OcpiModel,
    OpenEnum,
    OptionalList,
    PatchModel,
    String2,
    String64,
)


class TokenType(StrEnum):
    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class WhitelistType(StrEnum):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class AllowedType(StrEnum):
    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"


class ProfileType(StrEnum):
    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class EnergyContract(OcpiModel):
    supplier_name: String64
    contract_id: String64 | None = None


class Token(OcpiModel):
    country_code: CiString2
    party_id: CiString3
    uid: CiString36
    type: OpenEnum[TokenType]
    contract_id: CiString36
    visual_number: String64 | None = None
    issuer: String64
    group_id: CiString36 | None = None
    valid: bool
    whitelist: OpenEnum[WhitelistType]
    language: String2 | None = None
    default_profile_type: OpenEnum[ProfileType] | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class TokenPatch(PatchModel):
    """PATCH body for a Token; only `last_updated` is required."""

    country_code: CiString2 | None = None
    party_id: CiString3 | None = None
    uid: CiString36 | None = None
    type: OpenEnum[TokenType] | None = None
    contract_id: CiString36 | None = None
    visual_number: String64 | None = None
    issuer: String64 | None = None
    group_id: CiString36 | None = None
    valid: bool | None = None
    whitelist: OpenEnum[WhitelistType] | None = None
    language: String2 | None = None
    default_profile_type: OpenEnum[ProfileType] | None = None
    energy_contract: EnergyContract | None = None


class LocationReferences(OcpiModel):
    """Body of POST {tokens_url}/{uid}/authorize (optional)."""

    location_id: CiString36
    evse_uids: OptionalList[CiString36] = Field(default_factory=list)


class AuthorizationInfo(OcpiModel):
    """Answer `data` of a real-time authorization."""

    allowed: OpenEnum[AllowedType]
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString36 | None = None
    info: DisplayText | None = None
