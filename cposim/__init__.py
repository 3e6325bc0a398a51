"""A simulated CPO platform speaking OCPI 2.2.1 (or 2.1.1, or 2.3.0) over real HTTP, for testing an EMSP; and a
simulated hub in front of several of them.

Written independently from the EMSP code, from the OCPI specification only.
"""

from cposim.config import ChaosConfig, SimConfig
from cposim.hub import Hub, HubConfig
from cposim.invoicing import InvoicingError, MonthlyInvoice
from cposim.simulator import Simulator, StatusChange, SwipeResult

__all__ = [
    "ChaosConfig",
    "Hub",
    "HubConfig",
    "InvoicingError",
    "MonthlyInvoice",
    "SimConfig",
    "Simulator",
    "StatusChange",
    "SwipeResult",
]
