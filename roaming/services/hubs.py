"""Roaming hubs: one connection that carries many parties.

A hub registers with a role of its own (HUB) and tells us, through its HubClientInfo module, which parties
are behind it and whether each can be reached. In 2.3.0 a hub names itself in `hub_party_id` (read as its HUB
role) and lists the parties behind it as roles of its credentials; HubClientInfo may still tell their status.
The parties become roles of the hub's connection (source `hubclientinfo`, or `credentials` in 2.3.0), so
everything keyed by party works through a hub as it does with a direct partner: the objects each party pushes
are kept under that party, the routing headers we check accept it, and what we send about its objects
(commands) is addressed to it. A new handshake replaces only the roles its credentials name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from pydantic import ValidationError

from roaming.models import Partner, PartnerEndpoint, PartnerRole
from roaming.ocpi.client import OcpiClient
from roaming.ocpi.v2_2_1.types import describe_validation_error
from roaming.ocpi.versions import wire_for
from roaming.records import HubClientData

from .common import Party, StaleUpdate

logger = logging.getLogger(__name__)


class NotAHub(Exception):
    """Only a hub's connection may tell us about other parties."""


class PartyTaken(Exception):
    """The party is already reachable through another connection (a party belongs to one connection)."""


def partner_is_hub(partner: Partner) -> bool:
    return partner.roles.filter(role=PartnerRole.Role.HUB, source=PartnerRole.Source.CREDENTIALS).exists()


def hub_client_put(*, partner: Partner, client: HubClientData) -> bool:
    """Store what the hub says about one party behind it; True when the party is new to us.

    Raises `StaleUpdate` when we hold newer news of that party (nothing changes), `NotAHub` when the
    connection is not a hub's, `PartyTaken` when another connection already hosts the party.
    """
    if not partner_is_hub(partner):
        raise NotAHub(f"{partner} registered no HUB role: only a hub tells us about other parties.")
    key = {"country_code": client.country_code.upper(), "party_id": client.party_id.upper(), "role": client.role}
    with transaction.atomic():
        role = PartnerRole.objects.select_for_update().filter(**key).first()
        if role is None:
            try:
                with transaction.atomic():
                    PartnerRole.objects.create(
                        partner=partner,
                        source=PartnerRole.Source.HUB,
                        connection_status=client.status,
                        status_updated=client.last_updated,
                        **key,
                    )
            except IntegrityError as exc:  # created concurrently: by this hub (a retry) or by another connection
                raise PartyTaken(f"{key['country_code']}/{key['party_id']} {client.role} was just registered.") from exc
            created = True
        elif role.partner_id != partner.pk:
            raise PartyTaken(
                f"{key['country_code']}/{key['party_id']} {client.role} is reached through another connection."
            )
        elif _older(client.last_updated, role.status_updated):
            raise StaleUpdate(f"{key['country_code']}/{key['party_id']}: we hold newer client info.")
        else:
            role.connection_status = client.status
            role.status_updated = client.last_updated
            role.save(update_fields=["connection_status", "status_updated"])
            created = False
        # The parties a connection may speak for are cached with its token (roaming.ocpi.auth).
        transaction.on_commit(_forget_cached_callers)
    logger.info("%s: %s/%s %s is %s", partner, key["country_code"], key["party_id"], client.role, client.status)
    return created


def _older(update: datetime, stored: datetime | None) -> bool:
    return stored is not None and update < stored


def _forget_cached_callers() -> None:
    from roaming.ocpi.auth import forget_cached_callers

    forget_cached_callers()


def hub_client(*, partner: Partner, party: Party) -> PartnerRole | None:
    """The connection's role for a party, as its HubClientInfo GET shows it."""
    return (
        partner.roles.select_related("partner")
        .filter(country_code=party[0].upper(), party_id=party[1].upper())
        .order_by("pk")
        .first()
    )


def party_unreachable(*, partner: Partner, party: Party | None) -> str:
    """Why nothing should be sent to a party now ('' when it can be reached): a hub said it is offline,
    planned or suspended. Not queued either: an OFFLINE party pulls what it missed when it is back."""
    if party is None:
        return ""
    status = (
        partner.roles.filter(country_code=party[0].upper(), party_id=party[1].upper(), source=PartnerRole.Source.HUB)
        .values_list("connection_status", flat=True)
        .first()
    )
    if status is None or status == PartnerRole.ConnectionStatus.CONNECTED:
        return ""
    return f"{partner} says {party[0]}/{party[1]} is {status}: nothing can be sent to it now."


@dataclass
class HubPull:
    """What a pull of the hub's client list found."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: list[str] = field(default_factory=list)  # invalid objects, parties of other connections


def hub_clients_pull(*, partner: Partner, client: OcpiClient | None = None) -> HubPull:
    """Read the hub's whole client list (its HubClientInfo Sender interface) into the connection's parties."""
    url = partner.endpoint_url("hubclientinfo", PartnerEndpoint.InterfaceRole.SENDER)
    if not url and wire_for(partner).hub_parties_in_credentials:
        return HubPull()  # a 2.3.0 hub lists its parties in its credentials roles: nothing more to read
    if not url:
        raise NotAHub(f"{partner} has no hubclientinfo Sender endpoint.")
    wire = wire_for(partner).hubs
    if wire is None:
        raise NotAHub(f"{partner} speaks OCPI {partner.version}, which has no hubs.")
    client = client or OcpiClient.for_partner(partner)
    outcome = HubPull()
    for page in client.iter_pages(url, params={"limit": 1000}, module="hubclientinfo"):
        for obj in page.data:
            try:
                data = wire.client_info_data(wire.ClientInfo.model_validate(obj))
                if hub_client_put(partner=partner, client=data):
                    outcome.new += 1
                else:
                    outcome.updated += 1
            except ValidationError as exc:
                outcome.refused.append(f"invalid client info: {describe_validation_error(exc)}")
            except StaleUpdate:
                outcome.unchanged += 1
            except PartyTaken as exc:
                outcome.refused.append(str(exc))
    logger.info(
        "%s: %d parties behind the hub new, %d updated, %d unchanged, %d refused",
        partner,
        outcome.new,
        outcome.updated,
        outcome.unchanged,
        len(outcome.refused),
    )
    return outcome
