"""What every driver API view shares: authentication, the driver, and the errors every operation can give."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.views import APIView

from api.permissions import IsDriver
from drivers.models import Driver


class DriverView(APIView):
    """A view for the signed-in driver. Read and write only through `driver(request)`: rows of other drivers
    are then never found, and the app gets 404 for them, not 403 (which would confirm they exist)."""

    permission_classes = (IsDriver,)

    @staticmethod
    def driver(request: Request) -> Driver:
        return request.user.driver  # type: ignore[union-attr]
