"""What 2.1.1 reads differently from 2.2.1 in every module: a PATCH need not carry `last_updated`.

Reference: OCPI 2.1.1-d2 transport_and_format.md (PATCH); `last_updated` is required in a PATCH only from 2.2 on.
Every other type (CiString, DateTime, number, DisplayText, the JSON helpers) is 2.2.1's (`..v2_2_1.types`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from ..v2_2_1.types import DateTime, PatchModel


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Patch211(PatchModel):
    """A 2.1.1 PATCH body: without `last_updated` the change is as of its arrival (ocpi/ocpi#355 is 2.2's rule)."""

    last_updated: DateTime = Field(default_factory=_now)
