"""Back office for roaming, one module per subject: partners, what they publish, tokens, sessions and CDRs,
commands sent to CPOs."""

from . import commands, locations, partners, sessions, tokens

__all__ = ["commands", "locations", "partners", "sessions", "tokens"]
