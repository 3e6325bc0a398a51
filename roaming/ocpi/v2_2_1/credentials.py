"""Credentials module: the object exchanged in the registration handshake.

Reference: OCPI 2.2.1 credentials.asciidoc.
"""

from __future__ import annotations

from .locations import BusinessDetails
from .types import URL, CiString2, CiString3, CredentialsTokenString, NonEmptyList, OcpiModel, OpenEnum, Role


class CredentialsRole(OcpiModel):
    role: OpenEnum[Role]
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2


class Credentials(OcpiModel):
    token: CredentialsTokenString
    url: URL
    roles: NonEmptyList[CredentialsRole]
