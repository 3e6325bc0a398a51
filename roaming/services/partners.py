"""Partner connections: invitation, the credentials handshake both ways, rotation, unregistration.

Reference: OCPI 2.2.1 credentials module (../shared/ocpi/spec-facts.md §2).

HTTP calls to a partner are never made inside a database transaction: the partner calls us back
during the handshake (it reads our versions with the token we just gave it), so that token must be
committed first, and a failed exchange must leave its request log behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from emsp.lib.tasks import enqueue, tasks_run_in_process
from roaming.models import CredentialsToken, Partner, PartnerEndpoint, PartnerRole, hash_token, new_token
from roaming.ocpi.client import OcpiClient, OcpiClientError
from roaming.ocpi.v2_2_1 import Version
from roaming.ocpi.versions import WIRES, Wire, wire_for, wire_for_version
from roaming.records import EndpointData, PartyRoleData

from .hubs import partner_is_hub
from .schedules import MODULES, partner_pause_syncs, partner_schedule_syncs

logger = logging.getLogger(__name__)

#: Versions we speak, best first: the handshake picks the first one both sides list.
SUPPORTED_VERSIONS = tuple(WIRES)
#: Without these a partner connection is useless, so registration stops (OCPI 3003).
REQUIRED_MODULES = frozenset({"credentials"})
#: Modules that exist in a version only and mean the same whatever version the partner's other modules speak:
#: recorded from that version's details even when another version was agreed. Invoice reconciliation records
#: name CDRs by id and nothing else, so a CPO on 2.2.1 that also lists 2.3.0 can send and take them.
VERSION_ONLY_MODULES: dict[str, frozenset[str]] = {"2.3.0": frozenset({"invoicereconciliation"})}


class HandshakeError(Exception):
    """The handshake failed; `ocpi_status` is what we answer when the partner started it."""

    def __init__(self, message: str, *, ocpi_status: int = 3001) -> None:
        super().__init__(message)
        self.message = message
        self.ocpi_status = ocpi_status


@dataclass(frozen=True)
class Discovery:
    version: str
    endpoints: list[EndpointData]


def our_versions_url() -> str:
    return f"{settings.OCPI_BASE_URL}/versions"


def our_credentials(token: str, *, wire: Wire | None = None) -> dict[str, object]:
    """Our Credentials object in the wire's version (2.2.1 by default) carrying `token`, the token the
    partner is to use with us."""
    business: dict[str, object] = {"name": settings.OCPI_BUSINESS_NAME}
    if settings.OCPI_BUSINESS_WEBSITE:
        business["website"] = settings.OCPI_BUSINESS_WEBSITE
    return (wire or wire_for_version("2.2.1")).our_credentials(token, our_versions_url(), business)


# --- Invitation ---------------------------------------------------------------------------------------


def partner_invite(*, name: str) -> tuple[Partner, str]:
    """A new partner that will register with us, and the token A to send it out of band."""
    token_a = new_token()
    with transaction.atomic():
        partner = Partner.objects.create(name=name, status=Partner.Status.INVITED)
        CredentialsToken.objects.create(
            partner=partner, kind=CredentialsToken.Kind.INVITATION, token_hash=hash_token(token_a)
        )
    logger.info("invited partner %s (%s)", partner.pk, name)
    return partner, token_a


def partner_new_invitation_token(*, partner: Partner) -> str:
    """A fresh token A for a partner that lost its invitation or must register again."""
    token_a = new_token()
    with transaction.atomic():
        CredentialsToken.objects.filter(partner=partner, kind=CredentialsToken.Kind.INVITATION).delete()
        CredentialsToken.objects.create(
            partner=partner, kind=CredentialsToken.Kind.INVITATION, token_hash=hash_token(token_a)
        )
        if partner.status == Partner.Status.UNREGISTERED:
            partner.status = Partner.Status.INVITED
            partner.save(update_fields=["status", "updated_at"])
    return token_a


# --- Discovery ----------------------------------------------------------------------------------------


def discover(client: OcpiClient, versions_url: str, *, version: str | None = None, prefer: str = "") -> Discovery:
    """Read the partner's versions and the endpoints of the best version we both speak: `version` only that
    one; `prefer` that one when the partner lists it (the version whose credentials it called), else the best."""
    try:
        versions = [Version.model_validate(item) for item in client.get(versions_url, module="versions").data]
    except (OcpiClientError, ValueError, TypeError) as exc:
        raise HandshakeError(f"Could not read the partner's versions at {versions_url}: {exc}") from exc
    offered = {str(v.version): v.url for v in versions}
    wanted = [version] if version else [v for v in (prefer, *SUPPORTED_VERSIONS) if v in SUPPORTED_VERSIONS]
    chosen = next((v for v in wanted if v in offered), None)
    if chosen is None:
        raise HandshakeError(
            f"No common OCPI version: partner offers {sorted(offered)}, we support {list(SUPPORTED_VERSIONS)}.",
            ocpi_status=3002,
        )
    try:
        endpoints = WIRES[chosen].endpoints(client.get(str(offered[chosen]), module="versions").data)
    except (OcpiClientError, ValueError, TypeError) as exc:
        raise HandshakeError(f"Could not read the partner's {chosen} endpoints: {exc}") from exc
    modules = {e.module for e in endpoints}
    missing = REQUIRED_MODULES - modules
    if missing:
        raise HandshakeError(f"Partner endpoints lack {sorted(missing)}.", ocpi_status=3003)
    for other, only_there in VERSION_ONLY_MODULES.items():
        if other != chosen and other in offered:
            endpoints += _version_only_endpoints(client, other, str(offered[other]), only_there - modules)
    return Discovery(version=chosen, endpoints=endpoints)


def _version_only_endpoints(client: OcpiClient, version: str, url: str, wanted: frozenset[str]) -> list[EndpointData]:
    """The endpoints of `wanted` modules in another version's details. Not reachable or unreadable: none, and the
    handshake goes on (these modules are extras; the agreed version's endpoints are what the connection needs)."""
    if not wanted:
        return []
    try:
        endpoints = WIRES[version].endpoints(client.get(url, module="versions").data)
    except (OcpiClientError, ValueError, TypeError) as exc:
        logger.warning("could not read the partner's %s endpoints at %s, so none of %s: %s", version, url, wanted, exc)
        return []
    return [e for e in endpoints if e.module in wanted]


def _store_endpoints(partner: Partner, endpoints: list[EndpointData]) -> None:
    partner.endpoints.all().delete()
    rows = {}
    for endpoint in endpoints:
        # Credentials has no meaningful role; the spec advises SENDER and ignoring what others say.
        role = "SENDER" if endpoint.module == "credentials" else endpoint.role
        rows[(endpoint.module, role)] = PartnerEndpoint(
            partner=partner, module=endpoint.module, role=role, url=endpoint.url
        )
    PartnerEndpoint.objects.bulk_create(rows.values())


def _store_roles(partner: Partner, roles: list[PartyRoleData]) -> None:
    # Only the roles the credentials name: the parties a hub told us about stay (roaming.services.hubs).
    partner.roles.filter(source=PartnerRole.Source.CREDENTIALS).delete()
    try:
        with transaction.atomic():
            PartnerRole.objects.bulk_create(
                PartnerRole(
                    partner=partner,
                    role=role.role,
                    country_code=role.country_code,
                    party_id=role.party_id,
                    business_name=role.business_name,
                    business_website=role.business_website,
                    logo_url=role.logo_url,
                )
                for role in roles
            )
    except IntegrityError as exc:
        parties = ", ".join(f"{r.country_code}/{r.party_id} {r.role}" for r in roles)
        raise HandshakeError(
            f"A party among {parties} is already registered by another connection.", ocpi_status=2001
        ) from exc


def _client_for(partner: Partner, token: str, version: str = "") -> OcpiClient:
    """A client for the handshake with `token`, encoded as the partner's flag says unless the version (the one
    agreed, or the one whose credentials the partner called) sends tokens raw (2.1.1)."""
    wire = wire_for_version(version or partner.version or "2.2.1")
    return OcpiClient(token, partner=partner, base64_token=partner.token_base64 and wire.token_base64)


@dataclass(frozen=True)
class ReceivedCredentials:
    """A partner's Credentials object in our terms, whichever version it came in."""

    token: str
    url: str
    roles: list[PartyRoleData]
    version: str  # the version of the credentials endpoint it was sent to

    @classmethod
    def of(cls, credentials: Any, wire: Wire) -> ReceivedCredentials:
        return cls(str(credentials.token), str(credentials.url), wire.credentials_roles(credentials), wire.version)


# --- The partner registers with us (they hold token A) -------------------------------------------------


def accept_registration(*, partner: Partner, credentials: ReceivedCredentials) -> str:
    """Credentials POST: read the partner's endpoints with its token B, then issue token C.

    The version is the one whose credentials endpoint the partner called, when its versions list it; else the
    best version both sides list."""
    if partner.status != Partner.Status.INVITED:
        raise HandshakeError("Already registered.", ocpi_status=2000)
    discovery = discover(
        _client_for(partner, credentials.token, credentials.version), credentials.url, prefer=credentials.version
    )
    token_c = new_token()
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        if locked.status != Partner.Status.INVITED:
            raise HandshakeError("Already registered.", ocpi_status=2000)
        _store_roles(locked, credentials.roles)
        _store_endpoints(locked, discovery.endpoints)
        locked.credentials_tokens.all().delete()  # token A is spent
        CredentialsToken.objects.create(
            partner=locked, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(token_c)
        )
        locked.outgoing_token = credentials.token
        locked.versions_url = str(credentials.url)
        locked.version = discovery.version
        locked.status = Partner.Status.REGISTERED
        locked.registered_at = timezone.now()
        locked.save()
        _on_registered(locked, they_initiated=True)
    logger.info("partner %s registered with us (%s)", partner.pk, discovery.version)
    return token_c


def accept_update(*, partner: Partner, presented_token: CredentialsToken, credentials: ReceivedCredentials) -> str:
    """Credentials PUT: new token and/or endpoints from the partner; we answer with a new token.

    The token the partner used stays valid for the rotation grace period, so a lost answer cannot
    lock it out.
    """
    discovery = discover(
        _client_for(partner, credentials.token, credentials.version), credentials.url, prefer=credentials.version
    )
    new_incoming = new_token()
    with transaction.atomic():
        locked = Partner.objects.select_for_update().get(pk=partner.pk)
        _store_roles(locked, credentials.roles)
        _store_endpoints(locked, discovery.endpoints)
        grace_until = timezone.now() + timedelta(seconds=settings.OCPI_TOKEN_ROTATION_GRACE)
        CredentialsToken.objects.filter(pk=presented_token.pk).update(valid_until=grace_until)
        _tokens_changed()
        CredentialsToken.objects.create(
            partner=locked, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(new_incoming)
        )
        locked.outgoing_token = credentials.token
        locked.versions_url = str(credentials.url)
        locked.version = discovery.version
        locked.save()
    logger.info("partner %s updated its credentials", partner.pk)
    return new_incoming


# A partner that registered with us can only use our answer (its token) after it has read it: the first
# pull waits this long, or the partner may refuse it as "not registered".
FIRST_SYNC_DELAY_SECONDS = 5


def _on_registered(partner: Partner, *, they_initiated: bool) -> None:
    """Schedule the partner's pulls and, unless configured otherwise, pull everything now."""
    from roaming.tasks import sync_partner_task  # tasks import this module

    partner_schedule_syncs(partner=partner)
    countdown = FIRST_SYNC_DELAY_SECONDS if they_initiated else 0
    if settings.OCPI_SYNC_ON_REGISTER and partner_is_hub(partner):
        from roaming.tasks import hub_clients_pull_task

        enqueue(hub_clients_pull_task, partner.pk, countdown=countdown)  # the parties first, then their objects
    elif settings.OCPI_SYNC_ON_REGISTER and partner.roles.filter(role=PartnerRole.Role.CPO).exists():
        for module in MODULES:
            enqueue(sync_partner_task, partner.pk, str(module), True, countdown=countdown)


def first_pull_plan(*, partner: Partner) -> str:
    """What becomes of the first pull of a partner just registered, in words for whoever registered it: staff
    in the admin, or `ocpi_register`, which must not exit before a pull that runs in its own process ends."""
    hub = partner_is_hub(partner)
    if not (settings.OCPI_SYNC_ON_REGISTER and (hub or partner.roles.filter(role=PartnerRole.Role.CPO).exists())):
        return "No first pull (OCPI_SYNC_ON_REGISTER is off, or the partner is not a CPO): start one with Sync now."
    modules = ", ".join(str(module) for module in MODULES)
    if hub:
        modules = f"the parties behind the hub, then {modules}"
    if tasks_run_in_process():
        return f"The first pull ({modules}) runs in this process, in the background: Sync runs show its progress."
    return f"The first pull ({modules}) was handed to the workers through the broker: Sync runs show its progress."


def accept_unregister(*, partner: Partner) -> None:
    """Credentials DELETE: the partner ends the connection; its tokens and ours stop working."""
    _mark_unregistered(partner)
    logger.info("partner %s unregistered itself", partner.pk)


def _tokens_changed() -> None:
    from roaming.ocpi.auth import forget_cached_callers

    transaction.on_commit(forget_cached_callers)


def _mark_unregistered(partner: Partner) -> None:
    _tokens_changed()
    with transaction.atomic():
        partner_pause_syncs(partner=partner)
        partner.credentials_tokens.all().delete()
        partner.outgoing_token = ""
        partner.status = Partner.Status.UNREGISTERED
        partner.save()


# --- We register with the partner (we hold its token A) ------------------------------------------------


def register_with(*, versions_url: str, token_a: str, name: str = "", base64_token: bool = True) -> Partner:
    """Run the handshake as initiator: discover, POST our credentials with a new token B, keep token C."""
    partner = Partner.objects.filter(versions_url=versions_url).first()
    if partner is not None and partner.status == Partner.Status.REGISTERED:
        raise HandshakeError(f"Already registered with {versions_url} as partner {partner}.")
    if partner is None:
        partner = Partner.objects.create(
            name=name or versions_url,
            versions_url=versions_url,
            status=Partner.Status.INVITED,
            token_base64=base64_token,
        )
    client = _client_for(partner, token_a)
    discovery = discover(client, versions_url)
    _store_endpoints(partner, discovery.endpoints)
    credentials_url = partner.endpoint_url("credentials", "SENDER")
    assert credentials_url  # discover() guarantees the credentials module

    token_b = new_token()
    # Committed before the POST: the partner reads our versions with it before answering.
    pending = CredentialsToken.objects.create(
        partner=partner, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(token_b)
    )
    wire = WIRES[discovery.version]
    client.base64_token = client.base64_token and wire.token_base64  # token A was sent before the version was known
    try:
        answer = client.post(credentials_url, our_credentials(token_b, wire=wire), module="credentials")
        theirs = ReceivedCredentials.of(wire.Credentials.model_validate(answer.data), wire)
    except (OcpiClientError, ValueError, TypeError) as exc:
        pending.delete()
        raise HandshakeError(f"Credentials POST to {credentials_url} failed: {exc}") from exc

    with transaction.atomic():
        _store_roles(partner, theirs.roles)
        partner.credentials_tokens.exclude(pk=pending.pk).delete()
        partner.outgoing_token = theirs.token
        partner.version = discovery.version
        partner.status = Partner.Status.REGISTERED
        partner.registered_at = timezone.now()
        if name:
            partner.name = name
        elif partner.name == versions_url and theirs.roles:
            partner.name = theirs.roles[0].business_name
        partner.save()
        _on_registered(partner, they_initiated=False)
    logger.info("registered with partner %s at %s (%s)", partner.pk, versions_url, discovery.version)
    return partner


def rotate_our_token(*, partner: Partner) -> Partner:
    """Credentials PUT as initiator: a new token for them to use, a new one from them for us.

    Our old token stays valid until the partner has accepted the new one (and for the grace period
    after), and we read the partner's endpoints again afterwards, as they may have changed.
    """
    if partner.status != Partner.Status.REGISTERED:
        raise HandshakeError(f"Partner {partner} is not registered.")
    credentials_url = partner.endpoint_url("credentials", "SENDER")
    if not credentials_url:
        raise HandshakeError(f"Partner {partner} has no credentials endpoint.")
    new_incoming = new_token()
    pending = CredentialsToken.objects.create(
        partner=partner, kind=CredentialsToken.Kind.CONNECTION, token_hash=hash_token(new_incoming)
    )
    wire = wire_for(partner)
    try:
        answer = OcpiClient.for_partner(partner).put(
            credentials_url, our_credentials(new_incoming, wire=wire), module="credentials"
        )
        theirs = ReceivedCredentials.of(wire.Credentials.model_validate(answer.data), wire)
    except (OcpiClientError, ValueError, TypeError) as exc:
        pending.delete()
        raise HandshakeError(f"Credentials PUT to {credentials_url} failed: {exc}") from exc

    grace_until = timezone.now() + timedelta(seconds=settings.OCPI_TOKEN_ROTATION_GRACE)
    with transaction.atomic():
        partner.credentials_tokens.exclude(pk=pending.pk).filter(valid_until__isnull=True).update(
            valid_until=grace_until
        )
        _tokens_changed()
        _store_roles(partner, theirs.roles)
        partner.outgoing_token = theirs.token
        partner.save()
    discovery = discover(_client_for(partner, theirs.token), partner.versions_url, version=partner.version)
    with transaction.atomic():
        _store_endpoints(partner, discovery.endpoints)
    logger.info("rotated credentials with partner %s", partner.pk)
    return partner


def unregister(*, partner: Partner, force: bool = False) -> Partner:
    """Credentials DELETE as initiator. With `force`, end the connection here even if the call fails."""
    credentials_url = partner.endpoint_url("credentials", "SENDER")
    if partner.status == Partner.Status.REGISTERED and credentials_url:
        try:
            OcpiClient.for_partner(partner).delete(credentials_url, module="credentials")
        except OcpiClientError as exc:
            if not force:
                raise HandshakeError(f"Credentials DELETE to {credentials_url} failed: {exc}") from exc
            logger.warning("partner %s: DELETE failed (%s); unregistering anyway", partner.pk, exc)
    _mark_unregistered(partner)
    return partner


def purge_expired_tokens() -> int:
    """Tokens past their rotation grace period; run periodically."""
    deleted, _ = CredentialsToken.objects.filter(valid_until__lte=timezone.now()).delete()
    return deleted
