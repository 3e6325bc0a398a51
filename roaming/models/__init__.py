from .authorizations import Authorization
from .cdrs import Cdr, ImmutableCdr
from .commands import Command
from .invoicereconciliation import InvoiceReconciliationCdr, InvoiceReconciliationRecord, IssuedInvoiceRecord
from .locations import Connector, Evse, EvseStatus, EvseStatusChange, Location
from .partners import CredentialsToken, Partner, PartnerEndpoint, PartnerRole, hash_token, new_token
from .requestlog import OcpiRequestLog
from .sessions import LIVE_SESSION_STATUSES, ChargingPreferencesRequest, ChargingSession, SessionStatus
from .sync import SyncRun
from .tariffs import PriceComponent, Tariff, TariffElement
from .tokenpush import TokenPushCursor

__all__ = [
    "LIVE_SESSION_STATUSES",
    "Authorization",
    "Cdr",
    "ChargingPreferencesRequest",
    "ChargingSession",
    "Command",
    "Connector",
    "CredentialsToken",
    "Evse",
    "EvseStatus",
    "EvseStatusChange",
    "ImmutableCdr",
    "InvoiceReconciliationCdr",
    "InvoiceReconciliationRecord",
    "IssuedInvoiceRecord",
    "Location",
    "OcpiRequestLog",
    "Partner",
    "PartnerEndpoint",
    "PartnerRole",
    "PriceComponent",
    "SessionStatus",
    "SyncRun",
    "Tariff",
    "TariffElement",
    "TokenPushCursor",
    "hash_token",
    "new_token",
]
