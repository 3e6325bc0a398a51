"""Tariffs module, our Receiver interface: `{tariffs_url}/{country_code}/{party_id}/{tariff_id}`,
GET/PUT/DELETE, and PATCH in 2.1.1 (removed in 2.2).

A 2.1.1 PATCH is merged into the tariff as we serve it and stored as a PUT of the result: a tariff is replaced
whole (its elements have no ids), and the merged object is validated like any pushed tariff."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from roaming import selectors
from roaming.services.common import StaleUpdate, UnknownObject
from roaming.services.tariffs import tariff_delete, tariffs_upsert

from ..envelope import OcpiResponse
from ..errors import InvalidParameters, NotFound
from ..v2_2_1.types import format_datetime
from .base import OcpiView
from .locations import _check_same, stale_response, unknown


class TariffsReceiverView(OcpiView):
    module = "tariffs"

    def get(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        tariff = selectors.tariff_with_elements(party, tariff_id)
        if tariff is None:
            raise NotFound(f"Unknown tariff {tariff_id}.")
        return OcpiResponse(self._as_ocpi(tariff))

    def _as_ocpi(self, tariff: Any) -> dict[str, Any]:
        elements = [(element, list(element.price_components.all())) for element in tariff.elements.all()]
        return self.wire.tariff_to_ocpi(tariff, elements)

    def put(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        tariff: Any = self.parse(request, self.wire.Tariff)
        return self._store(party, tariff_id, tariff)

    def _store(self, party: tuple[str, str], tariff_id: str, tariff: Any) -> OcpiResponse:
        _check_same("Tariff id", tariff_id, tariff.id)
        _check_same("country_code", party[0], getattr(tariff, "country_code", None))
        _check_same("party_id", party[1], getattr(tariff, "party_id", None))
        result = tariffs_upsert(partner=self.caller.partner, items=[self.wire.tariff_data(tariff, party)])
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


class PatchableTariffsReceiverView(TariffsReceiverView):
    """OCPI 2.1.1's tariffs Receiver, which also takes PATCH (routed for 2.1.1 only, so 2.2.1 answers 405)."""

    def patch(self, request: HttpRequest, country_code: str, party_id: str, tariff_id: str) -> OcpiResponse:
        party = self.require_party(country_code, party_id)
        stored = selectors.tariff_with_elements(party, tariff_id)
        if stored is None:  # before the body is read: there is nothing to patch
            raise NotFound(f"Unknown tariff {tariff_id}.")
        changes = self.parse_json(request)
        if not isinstance(changes, dict):
            raise InvalidParameters("A tariff PATCH is an object with the fields that change.")
        # 2.1.1 does not require last_updated in a PATCH: without it, the change is as of now.
        merged = {**self._as_ocpi(stored), "last_updated": format_datetime(timezone.now()), **changes}
        self._payload = merged  # read as a whole tariff, as if PUT
        return self._store(party, tariff_id, self.parse(request, self.wire.Tariff))
