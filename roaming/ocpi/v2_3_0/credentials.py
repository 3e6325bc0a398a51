"""Credentials, 2.3.0: Role has no HUB; a hub names itself in `hub_party_id` (country code + party id, e.g.
"NLHUB") and lists the parties reachable through it in `roles`.

Reference: OCPI 2.3.0-ed2 credentials.asciidoc.
"""

from __future__ import annotations

from ..v2_2_1 import credentials as v221
from ..v2_2_1.types import CiString5, NonEmptyList, OpenEnum
from .types import Role


class CredentialsRole(v221.CredentialsRole):
    role: OpenEnum[Role]


class Credentials(v221.Credentials):
    roles: NonEmptyList[CredentialsRole]  # type: ignore[assignment]
    hub_party_id: CiString5 | None = None
