"""Back office for roaming, one module per subject: partners, what they publish, tokens, sessions and CDRs."""

from . import locations, partners, sessions, tokens

__all__ = ["locations", "partners", "sessions", "tokens"]
