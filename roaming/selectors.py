"""Reads of what CPOs told us, shaped for the OCPI GET endpoints, the driver API and the back office."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from drivers.models import TokenChange
from roaming.models import (
    Authorization,
    Cdr,
    ChargingPreferencesRequest,
    ChargingSession,
    Command,
    Connector,
    Evse,
    EvseStatus,
    Location,
    PriceComponent,
    SyncRun,
    Tariff,
    TariffElement,
    TokenPushCursor,
)

Party = tuple[str, str]


def location_with_children(party: Party, location_id: str) -> Location | None:
    """One location with its EVSEs and connectors in three queries (removed ones included: the CPO
    asked for what we stored)."""
    return (
        Location.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=location_id)
        .prefetch_related(
            Prefetch("evses", queryset=Evse.objects.order_by("pk")),
            Prefetch("evses__connectors", queryset=Connector.objects.order_by("pk")),
        )
        .first()
    )


def tariff_with_elements(party: Party, tariff_id: str) -> Tariff | None:
    """A tariff in use (not deleted by its CPO) with its elements and price components."""
    return (
        Tariff.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=tariff_id, removed_at__isnull=True)
        .prefetch_related(
            Prefetch("elements", queryset=TariffElement.objects.order_by("position")),
            Prefetch("elements__price_components", queryset=PriceComponent.objects.order_by("position")),
        )
        .first()
    )


def last_successful_sync(partner_id: int, module: str) -> SyncRun | None:
    return (
        SyncRun.objects.filter(partner_id=partner_id, module=module, status=SyncRun.Status.SUCCEEDED)
        .order_by("-started_at")
        .first()
    )


def visible_locations() -> QuerySet[Location]:
    """Locations a driver may see: published, still listed by their CPO."""
    return Location.objects.filter(publish=True, removed_at__isnull=True)


def connector_visible(
    *, pk: int | None = None, location_pk: int | None = None, evse_uid: str = "", connector_id: str = ""
) -> Connector | None:
    """A connector a driver may charge at, by our id or by (our location id, the CPO's EVSE uid and connector
    id), with its EVSE and location: None when it is unknown, removed, on a removed EVSE or on a location
    the CPO does not publish (the app must not learn of those)."""
    connectors = Connector.objects.filter(
        removed_at__isnull=True,
        evse__removed_at__isnull=True,
        evse__location__publish=True,  # as visible_locations()
        evse__location__removed_at__isnull=True,
    ).exclude(evse__status=EvseStatus.REMOVED)
    if pk is not None:
        connectors = connectors.filter(pk=pk)
    elif location_pk is not None:
        connectors = connectors.filter(evse__location_id=location_pk, evse__uid=evse_uid, ocpi_id=connector_id)
    else:
        return None
    return connectors.select_related("evse__location").first()


def authorization_for_reference(reference: str) -> Authorization | None:
    """The authorization a Session or CDR echoes as `authorization_reference` (real-time or command)."""
    return Authorization.objects.select_related("token", "partner").filter(reference=reference).first()


def command_for_authorization_reference(reference: str) -> Command | None:
    """The START_SESSION (or RESERVE_NOW) that a Session's `authorization_reference` answers.

    Whatever the command's result, even TIMEOUT or FAILED: a session may still start after those (field notes
    4), and it belongs to this command and its token.
    """
    if not reference:
        return None
    return Command.objects.select_related("token", "partner").filter(authorization_reference=reference).first()


def token_changes_pending(cursor: TokenPushCursor) -> int:
    """Token changes the cursor's partner has not received yet."""
    return TokenChange.objects.filter(pk__gt=cursor.last_change_id).count()


def charging_session(party: Party, session_id: str) -> ChargingSession | None:
    return ChargingSession.objects.filter(country_code=party[0], party_id=party[1], ocpi_id=session_id).first()


def cdr_of_parties(pk: int, parties: frozenset[Party]) -> Cdr | None:
    """A stored CDR, only if it belongs to one of the asking connection's parties."""
    cdr = Cdr.objects.filter(pk=pk).first()
    return cdr if cdr is not None and (cdr.country_code, cdr.party_id) in parties else None


def preferences_in_force(session: ChargingSession) -> ChargingPreferencesRequest | None:
    """The charging preferences the CPO charges this session by: the latest it accepted."""
    return (
        session.preference_requests.filter(response=ChargingPreferencesRequest.Response.ACCEPTED)
        .order_by("-created_at", "-pk")
        .first()
    )
