"""OCPI 2.1.1 wire-format models: the objects whose shape 2.1.1 has its own (spec facts, section 5).

Types, base models, JSON helpers and the objects 2.1.1 shares with 2.2.1 (BusinessDetails, GeoLocation, charging
periods, tariff elements) are 2.2.1's; `mapping.py` maps these objects to the records through 2.2.1's mapping.
"""

from .credentials import Credentials
from .locations import (
    EVSE,
    Connector,
    ConnectorPatch,
    EnergyMix,
    EVSEPatch,
    Hours,
    Location,
    LocationPatch,
    LocationType,
)
from .sessions import CDR, Session, SessionPatch
from .tariffs import Tariff
from .tokens import (
    CommandResponse,
    CommandResponseType,
    LocationReferences,
    ReserveNow,
    StartSession,
    StopSession,
    Token,
    TokenType,
    UnlockConnector,
)
from .types import Patch211
from .versions import Endpoint, VersionDetails

__all__ = [
    "CDR",
    "EVSE",
    "CommandResponse",
    "CommandResponseType",
    "Connector",
    "ConnectorPatch",
    "Credentials",
    "EVSEPatch",
    "Endpoint",
    "EnergyMix",
    "Hours",
    "Location",
    "LocationPatch",
    "LocationReferences",
    "LocationType",
    "Patch211",
    "ReserveNow",
    "Session",
    "SessionPatch",
    "StartSession",
    "StopSession",
    "Tariff",
    "Token",
    "TokenType",
    "UnlockConnector",
    "VersionDetails",
]
