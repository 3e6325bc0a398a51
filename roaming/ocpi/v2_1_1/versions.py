"""Versions module, 2.1.1: an endpoint is `identifier` and `url` only (no interface role).

Reference: OCPI 2.1.1-d2 version_information_endpoint.md. The example in the spec says version "2.0": the number is
read as any string.
"""

from __future__ import annotations

from ..v2_2_1.types import URL, NonEmptyList, OcpiModel, OpenEnum
from ..v2_2_1.versions import ModuleID


class Endpoint(OcpiModel):
    identifier: OpenEnum[ModuleID]
    url: URL


class VersionDetails(OcpiModel):
    version: str
    endpoints: NonEmptyList[Endpoint]
