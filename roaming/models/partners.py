"""Partner connections: one remote OCPI platform, the parties it hosts, its endpoints, and tokens.

Tokens a partner presents to us are kept only as SHA-256 hashes: they are long random secrets, so a
fast unsalted hash is enough and keeps the per-request lookup one indexed query. The token we present
to a partner must be sent again, so it is kept encrypted (Fernet, key from the environment).
"""

from __future__ import annotations

import hashlib
import secrets

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A credentials token: 43 URL-safe characters, within OCPI's 64 printable ASCII."""
    return secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    return Fernet(settings.OCPI_TOKEN_ENCRYPTION_KEY.encode())


class Partner(models.Model):
    """One remote platform we roam with (usually a CPO), whichever side started the handshake."""

    class Status(models.TextChoices):
        INVITED = "invited", "Invited (handshake pending)"
        REGISTERED = "registered", "Registered"
        SUSPENDED = "suspended", "Suspended"
        UNREGISTERED = "unregistered", "Unregistered"

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED, db_index=True)
    versions_url = models.URLField(max_length=255, blank=True, help_text="The partner's versions endpoint.")
    version = models.CharField(max_length=8, blank=True, help_text="OCPI version agreed in the handshake.")
    token_base64 = models.BooleanField(
        default=True,
        help_text="Send our token base64-encoded (OCPI 2.2.1). Turn off for platforms that expect it raw.",
    )
    outgoing_token_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    registered_at = models.DateTimeField(null=True, blank=True)

    # Who changed what (the secret we present stays out of the history).
    history = HistoricalRecords(excluded_fields=["outgoing_token_encrypted", "updated_at"])

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def outgoing_token(self) -> str:
        """The token we present when calling this partner (their token A, B or C)."""
        if not self.outgoing_token_encrypted:
            return ""
        return _fernet().decrypt(self.outgoing_token_encrypted.encode()).decode()

    @outgoing_token.setter
    def outgoing_token(self, token: str) -> None:
        self.outgoing_token_encrypted = _fernet().encrypt(token.encode()).decode() if token else ""

    def endpoint_url(self, module: str, role: str) -> str | None:
        for endpoint in self.endpoints.all():
            if endpoint.module == module and endpoint.role == role:
                return endpoint.url
        return None


class PartnerRole(models.Model):
    """A party (country_code, party_id, role) hosted by a partner's platform.

    A party belongs to one partner only: the pair is what keys every object the party pushes to us. A direct
    partner's parties come from its credentials; a hub's are its own (role HUB) plus the parties behind it
    that its HubClientInfo tells us about, each with a connection status.
    """

    class Role(models.TextChoices):
        CPO = "CPO"
        EMSP = "EMSP"
        HUB = "HUB"
        NAP = "NAP"
        NSP = "NSP"
        OTHER = "OTHER"
        SCSP = "SCSP"

    class Source(models.TextChoices):
        CREDENTIALS = "credentials", "the handshake's credentials"
        HUB = "hubclientinfo", "the hub's client info"

    class ConnectionStatus(models.TextChoices):
        """A hub's word on whether a party behind it can be reached (OCPI HubClientInfo)."""

        CONNECTED = "CONNECTED"
        OFFLINE = "OFFLINE"  # send nothing now, queue nothing: it pulls what it missed when back
        PLANNED = "PLANNED"  # not reachable yet
        SUSPENDED = "SUSPENDED"  # never again

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=32, choices=Role.choices)  # a role from a newer edition is kept as sent
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CREDENTIALS)
    connection_status = models.CharField(
        max_length=32, choices=ConnectionStatus.choices, default=ConnectionStatus.CONNECTED
    )  # a status from a newer edition is kept as sent
    status_updated = models.DateTimeField(
        null=True, blank=True, help_text="last_updated of the hub's client info this status came from."
    )
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    business_name = models.CharField(max_length=100, blank=True)  # a hub's client info names no business
    business_website = models.URLField(max_length=255, blank=True)
    logo_url = models.URLField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("country_code", "party_id", "role"), name="unique_party_role"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}/{self.party_id} ({self.role})"


class PartnerEndpoint(models.Model):
    """A module endpoint from the partner's version details, refreshed at every handshake."""

    class InterfaceRole(models.TextChoices):
        SENDER = "SENDER"
        RECEIVER = "RECEIVER"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="endpoints")
    module = models.CharField(max_length=32)
    role = models.CharField(max_length=32, choices=InterfaceRole.choices)
    url = models.URLField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("partner", "module", "role"), name="unique_partner_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.role}: {self.url}"


class CredentialsToken(models.Model):
    """A token a partner presents to us, stored hashed.

    INVITATION is the token A we hand out; it opens only versions and credentials and is deleted when
    the handshake completes. CONNECTION is the token B or C the partner uses afterwards. During a
    rotation the old CONNECTION token gets `valid_until` (OCPI_TOKEN_ROTATION_GRACE from now), so a
    partner that missed our answer is not locked out; the periodic clean-up deletes it afterwards.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation (token A)"
        CONNECTION = "connection", "Connection (token B/C)"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="credentials_tokens")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.partner_id}"

    @property
    def is_expired(self) -> bool:
        return self.valid_until is not None and self.valid_until <= timezone.now()
