"""Which `Wire` speaks which OCPI version (kept apart from cposim.wire, which the version modules import)."""

from __future__ import annotations

from cposim.wire import VERSIONS, Locate, Wire
from cposim.wire211 import Wire211
from cposim.wire230 import Wire230


def wire_for(version: str, locate: Locate, *, tax_included: str = "NO") -> Wire:
    """The edge for `version`; `tax_included` is what 2.3.0 tariffs say (the others have no such field)."""
    if version == Wire211.version:
        return Wire211(locate)
    if version == Wire230.version:
        return Wire230(locate, tax_included=tax_included)
    if version == Wire.version:
        return Wire(locate)
    raise ValueError(f"unsupported OCPI version {version!r}; choose from {', '.join(VERSIONS)}")
