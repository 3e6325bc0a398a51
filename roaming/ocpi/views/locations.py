"""Locations module, our Receiver interface: the CPO pushes its locations, EVSEs and connectors.

`{locations_url}/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]`, GET/PUT/PATCH.
Objects are addressed by the CPO's own ids under one of the connection's own parties.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from roaming import selectors
from roaming.services import locations as location_services
from roaming.services.common import Party, StaleUpdate, UnknownObject
from roaming.services.locations import locations_upsert

from ..envelope import OcpiResponse
from ..errors import InvalidParameters, NotFound, OcpiError
from .base import OcpiView


def _check_same(what: str, in_url: str, in_body: str | None) -> None:
    """Spec: the id in the URL must equal the id in the pushed object (else 2001)."""
    if in_body is not None and in_body.upper() != in_url.upper():
        raise InvalidParameters(f"{what} in the URL ({in_url}) differs from the one in the body ({in_body}).")


def _status_only(patch: Any) -> bool:
    """A plain status change (most pushes of a busy CPO), which has a faster path."""
    return (
        patch.model_fields_set <= {"status", "last_updated", "uid"}
        and not patch.model_extra
        and patch.status is not None
        and patch.status != "REMOVED"
    )


def stale_response(exc: StaleUpdate) -> OcpiResponse:
    # Not an error for the CPO: a newer version is already here, so retrying would not help.
    return OcpiResponse(status_message=f"Not applied: {exc}")


def unknown(exc: UnknownObject) -> OcpiError:
    return NotFound(str(exc), status_code=exc.ocpi_status)


class LocationsReceiverView(OcpiView):
    module = "locations"

    def get(
        self,
        request: HttpRequest,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        location = selectors.location_with_children(party, location_id)
        if location is None:
            raise NotFound(f"Unknown location {location_id}.", status_code=2003)
        evses = [(evse, list(evse.connectors.all())) for evse in location.evses.all()]
        wire = self.wire
        if evse_uid is None:
            return OcpiResponse(wire.location_to_ocpi(location, evses))
        evse, connectors = next(((e, c) for e, c in evses if e.uid.upper() == evse_uid.upper()), (None, []))
        if evse is None:
            raise NotFound(f"Unknown EVSE {evse_uid} at location {location_id}.")
        if connector_id is None:
            return OcpiResponse(wire.evse_to_ocpi(evse, connectors))
        connector = next((c for c in connectors if c.ocpi_id.upper() == connector_id.upper()), None)
        if connector is None:
            raise NotFound(f"Unknown connector {connector_id} of EVSE {evse_uid}.")
        return OcpiResponse(wire.connector_to_ocpi(connector))

    def put(
        self,
        request: HttpRequest,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        wire = self.wire
        try:
            if evse_uid is None:
                created = self._put_location(party, location_id)
            elif connector_id is None:
                evse: Any = self.parse(request, wire.EVSE)
                _check_same("EVSE uid", evse_uid, evse.uid)
                created = location_services.evse_put(party=party, location_id=location_id, evse=wire.evse_data(evse))
            else:
                connector: Any = self.parse(request, wire.Connector)
                _check_same("Connector id", connector_id, connector.id)
                created = location_services.connector_put(
                    party=party,
                    location_id=location_id,
                    evse_uid=evse_uid,
                    connector=wire.connector_data(connector),
                )
        except StaleUpdate as exc:
            return stale_response(exc)
        except UnknownObject as exc:
            raise unknown(exc) from exc
        return OcpiResponse(http_status=201 if created else 200)

    def _put_location(self, party: Party, location_id: str) -> bool:
        location: Any = self.parse(self.request, self.wire.Location)
        _check_same("Location id", location_id, location.id)
        _check_same("country_code", party[0], getattr(location, "country_code", None))
        _check_same("party_id", party[1], getattr(location, "party_id", None))
        result = locations_upsert(partner=self.caller.partner, items=[self.wire.location_data(location, party)])
        if result.stale:
            raise StaleUpdate(f"Location {location_id}: stored last_updated is newer.")
        return bool(result.created)

    def patch(
        self,
        request: HttpRequest,
        country_code: str,
        party_id: str,
        location_id: str,
        evse_uid: str | None = None,
        connector_id: str | None = None,
    ) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        wire = self.wire
        try:
            if evse_uid is None:
                patch: Any = self.parse(request, wire.LocationPatch)
                _check_same("Location id", location_id, patch.id)
                changes, evses = wire.location_patch_data(patch)
                location_services.location_patch(
                    party=party, location_id=location_id, changes=changes, last_updated=patch.last_updated, evses=evses
                )
            elif connector_id is None:
                evse_patch: Any = self.parse(request, wire.EVSEPatch)
                _check_same("EVSE uid", evse_uid, evse_patch.uid)
                if _status_only(evse_patch):
                    location_services.evse_status_patch(
                        party=party,
                        location_id=location_id,
                        evse_uid=evse_uid,
                        status=str(evse_patch.status),
                        last_updated=evse_patch.last_updated,
                    )
                    # Recorded in the EVSE's status history; the request log keeps only failures of these.
                    self.log_requests = settings.OCPI_REQUEST_LOG_STATUS_PATCHES
                    return OcpiResponse()
                evse_changes, connectors = wire.evse_patch_data(evse_patch)
                location_services.evse_patch(
                    party=party,
                    location_id=location_id,
                    evse_uid=evse_uid,
                    changes=evse_changes,
                    last_updated=evse_patch.last_updated,
                    connectors=connectors,
                )
            else:
                connector_patch: Any = self.parse(request, wire.ConnectorPatch)
                _check_same("Connector id", connector_id, connector_patch.id)
                location_services.connector_patch(
                    party=party,
                    location_id=location_id,
                    evse_uid=evse_uid,
                    connector_id=connector_id,
                    changes=wire.connector_patch_data(connector_patch),
                    last_updated=connector_patch.last_updated,
                )
        except StaleUpdate as exc:
            return stale_response(exc)
        except UnknownObject as exc:
            raise unknown(exc) from exc
        return OcpiResponse()
