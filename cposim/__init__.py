"""A simulated CPO platform speaking OCPI 2.2.1 over real HTTP, for testing an EMSP.

Written independently from the EMSP code, from the OCPI specification only.
"""

from cposim.config import ChaosConfig, SimConfig
from cposim.simulator import Simulator, StatusChange, SwipeResult

__all__ = ["ChaosConfig", "SimConfig", "Simulator", "StatusChange", "SwipeResult"]
