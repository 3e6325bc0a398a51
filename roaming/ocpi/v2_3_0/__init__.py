"""OCPI 2.3.0 wire-format models: what 2.3.0 changes or adds to 2.2.1's objects, as subclasses of them.

The types, base models and JSON helpers are 2.2.1's (`..v2_2_1.types`); objects 2.3.0 keeps unchanged (tokens,
commands, hub client info, charging preferences) are 2.2.1's models. Unknown values of the open enums are kept.
"""

from .credentials import Credentials, CredentialsRole
from .invoicereconciliation import InvoiceReconciliationRecord
from .locations import (
    EVSE,
    Connector,
    ConnectorCapability,
    ConnectorPatch,
    ConnectorType,
    EVSEParking,
    EVSEPatch,
    EVSEPosition,
    Location,
    LocationPatch,
    Parking,
    ParkingDirection,
    ParkingRestriction,
    VehicleType,
)
from .sessions import CDR, CdrToken, Session, SessionPatch, TokenType
from .tariffs import CdrTariff, Tariff
from .types import Price, PriceLimit, Role, TaxAmount, TaxIncluded

__all__ = [
    "CDR",
    "EVSE",
    "CdrTariff",
    "CdrToken",
    "Connector",
    "ConnectorCapability",
    "ConnectorPatch",
    "ConnectorType",
    "Credentials",
    "CredentialsRole",
    "EVSEParking",
    "EVSEPatch",
    "EVSEPosition",
    "InvoiceReconciliationRecord",
    "Location",
    "LocationPatch",
    "Parking",
    "ParkingDirection",
    "ParkingRestriction",
    "Price",
    "PriceLimit",
    "Role",
    "Session",
    "SessionPatch",
    "Tariff",
    "TaxAmount",
    "TaxIncluded",
    "TokenType",
    "VehicleType",
]
