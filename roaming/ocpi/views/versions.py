"""Versions module: which OCPI versions we speak and, per version, the endpoints we serve."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from ..envelope import OcpiResponse
from .base import OcpiView


class VersionsView(OcpiView):
    module = "versions"
    accepts_invitation_token = True

    def get(self, request: HttpRequest) -> OcpiResponse:
        from ..urls import VERSIONS

        return OcpiResponse([{"version": v, "url": f"{settings.OCPI_BASE_URL}/{v}"} for v in VERSIONS])


class VersionDetailsView(OcpiView):
    module = "versions"
    accepts_invitation_token = True
    version = "2.2.1"

    def get(self, request: HttpRequest) -> OcpiResponse:
        from ..urls import MODULES

        base = f"{settings.OCPI_BASE_URL}/{self.version}"
        endpoints: list[dict[str, Any]] = [
            {"identifier": m.identifier, "role": m.role, "url": f"{base}/{m.path}"} for m in MODULES[self.version]
        ]
        if not self.wire.endpoint_roles:  # 2.1.1 endpoints are identifier and url only
            endpoints = [{k: v for k, v in endpoint.items() if k != "role"} for endpoint in endpoints]
        return OcpiResponse({"version": self.version, "endpoints": endpoints})
