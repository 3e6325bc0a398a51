"""Who may call the driver API: a signed-in user who is a driver. Every view then reads only that driver's
rows (`api.views.base.DriverView.driver`), so another driver's ids are simply not found (404)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request


class IsDriver(BasePermission):
    message = "Sign in with a driver account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated and hasattr(request.user, "driver"))
