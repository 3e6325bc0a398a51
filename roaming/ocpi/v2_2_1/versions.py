"""Versions module: version information and version details.

Reference: OCPI 2.2.1 version_information_endpoint.asciidoc.
"""

from __future__ import annotations

from enum import StrEnum

from .types import URL, NonEmptyList, OcpiModel, OpenEnum


class VersionNumber(StrEnum):
    V2_0 = "2.0"
    V2_1 = "2.1"
    V2_1_1 = "2.1.1"
    V2_2 = "2.2"
    V2_2_1 = "2.2.1"


class ModuleID(StrEnum):
    # Partners may publish custom (prefixed) modules, hence OpenEnum on Endpoint.identifier.
    CDRS = "cdrs"
    CHARGING_PROFILES = "chargingprofiles"
    COMMANDS = "commands"
    CREDENTIALS = "credentials"
    HUB_CLIENT_INFO = "hubclientinfo"
    LOCATIONS = "locations"
    SESSIONS = "sessions"
    TARIFFS = "tariffs"
    TOKENS = "tokens"


class InterfaceRole(StrEnum):
    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class Version(OcpiModel):
    version: OpenEnum[VersionNumber]
    url: URL


class Endpoint(OcpiModel):
    identifier: OpenEnum[ModuleID]
    role: OpenEnum[InterfaceRole]
    url: URL


class VersionDetails(OcpiModel):
    # The spec's own 2.2.1 examples still say "2.2" here; VersionNumber knows that value.
    version: OpenEnum[VersionNumber]
    endpoints: NonEmptyList[Endpoint]
