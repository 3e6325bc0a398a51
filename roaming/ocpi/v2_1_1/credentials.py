"""Credentials, 2.1.1: one flat object, the party itself (no `roles`).

Reference: OCPI 2.1.1-d2 credentials.md.
"""

from __future__ import annotations

from ..v2_2_1.locations import BusinessDetails
from ..v2_2_1.types import URL, CiString2, CiString3, CredentialsTokenString, OcpiModel


class Credentials(OcpiModel):
    token: CredentialsTokenString
    url: URL
    business_details: BusinessDetails
    party_id: CiString3
    country_code: CiString2
