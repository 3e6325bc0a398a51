"""Tariffs module, our Receiver interface: `{tariffs_url}/{country_code}/{party_id}/{tariff_id}`,
GET/PUT/DELETE (2.2.1 has no tariff PATCH)."""

from __future__ import annotations

from django.http import HttpRequest

from roaming import selectors
from roaming.services.common import StaleUpdate, UnknownObject
from roaming.services.tariffs import tariff_delete, tariffs_upsert

from ..envelope import OcpiResponse
from ..errors import NotFound
from ..v2_2_1 import Tariff
from ..v2_2_1.mapping import tariff_data, tariff_to_ocpi
from .base import OcpiView
from .locations import _check_same, stale_response, unknown


class TariffsReceiverView(OcpiView):
    module = "tariffs"

    def get(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        tariff = selectors.tariff_with_elements(party, tariff_id)
        if tariff is None:
            raise NotFound(f"Unknown tariff {tariff_id}.")
        elements = [(element, list(element.price_components.all())) for element in tariff.elements.all()]
        return OcpiResponse(tariff_to_ocpi(tariff, elements))

    def put(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        tariff = self.parse(request, Tariff)
        _check_same("Tariff id", tariff_id, tariff.id)
        _check_same("country_code", party[0], tariff.country_code)
        _check_same("party_id", party[1], tariff.party_id)
        result = tariffs_upsert(partner=self.caller.partner, items=[tariff_data(tariff)])
        if result.stale:
            return stale_response(StaleUpdate(f"Tariff {tariff_id}: stored last_updated is newer."))
        return OcpiResponse(http_status=201 if result.created else 200)

    def delete(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        try:
            tariff_delete(party=party, tariff_id=tariff_id)
        except StaleUpdate as exc:
            return stale_response(exc)
        except UnknownObject as exc:
            raise unknown(exc) from exc
        return OcpiResponse()
