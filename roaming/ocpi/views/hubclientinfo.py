"""HubClientInfo module, our Receiver interface: `{url}/{country_code}/{party_id}`, GET and PUT.

A hub tells us about each party behind it: who it is, and whether it is connected. A configuration module
(no routing headers). Only a hub's connection may PUT here; the party named need not be one of the
connection's parties yet, that is what the PUT makes it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from roaming.services.common import StaleUpdate
from roaming.services.hubs import NotAHub, PartyTaken, hub_client, hub_client_put

from ..envelope import OcpiResponse
from ..errors import InvalidParameters, NotFound
from ..versions import HubWire, Wire
from .base import OcpiView
from .locations import _check_same, stale_response


def _hub_wire(wire: Wire) -> HubWire:
    """Only versions with hubs route this module (2.2 on)."""
    if wire.hubs is None:
        raise NotFound(f"OCPI {wire.version} has no hubclientinfo module.")
    return wire.hubs


class HubClientInfoReceiverView(OcpiView):
    module = "hubclientinfo"

    def get(self, request: HttpRequest, country_code: str, party_id: str) -> OcpiResponse:
        role = hub_client(partner=self.caller.partner, party=(country_code, party_id))
        if role is None:
            raise NotFound(f"No client info for {country_code}/{party_id} on this connection.")
        return OcpiResponse(_hub_wire(self.wire).client_info_to_ocpi(role))

    def put(self, request: HttpRequest, country_code: str, party_id: str) -> OcpiResponse:
        wire = _hub_wire(self.wire)
        info: Any = self.parse(request, wire.ClientInfo)
        _check_same("country_code", country_code, info.country_code)
        _check_same("party_id", party_id, info.party_id)
        try:
            created = hub_client_put(partner=self.caller.partner, client=wire.client_info_data(info))
        except StaleUpdate as exc:
            return stale_response(exc)
        except NotAHub as exc:
            raise InvalidParameters(str(exc), http_status=403) from exc
        except PartyTaken as exc:
            raise InvalidParameters(str(exc), http_status=409) from exc
        return OcpiResponse(http_status=201 if created else 200)
