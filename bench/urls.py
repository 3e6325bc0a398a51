"""The platform's routes plus the baselines: a bare Django view doing one UPDATE, and a bare DRF view."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from emsp.urls import handler400, handler403, handler404, handler500  # noqa: F401 (the platform's error pages)
from emsp.urls import urlpatterns as platform_urls
from roaming.models import ChargingSession, Evse


@csrf_exempt
def baseline_update(request: HttpRequest, evse_pk: int) -> JsonResponse:
    """What the status PATCH benchmark compares against: parse the body, one UPDATE, a JSON answer."""
    body = json.loads(request.body)
    Evse.objects.filter(pk=evse_pk).update(status=body["status"])
    return JsonResponse({"status_code": 1000})


class BaselineSessionView(APIView):
    """What the live-session poll compares against: a bare DRF view with the API's JWT authentication reading
    one session by primary key."""

    permission_classes = (IsAuthenticated,)

    def get(self, request: Request, session_pk: int) -> Response:
        row = ChargingSession.objects.filter(pk=session_pk).values("status", "kwh").first()
        return Response({"status": row["status"], "kwh": str(row["kwh"])} if row else {})


class BareDrfView(APIView):
    """What the driver API benchmarks compare against: DRF with the API's defaults (a driver's JWT, IsDriver),
    no query of its own, a constant JSON answer."""

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("bench/baseline/<int:evse_pk>", baseline_update),
    path("bench/baseline-session/<int:session_pk>", BaselineSessionView.as_view()),
    path("bench/drf", BareDrfView.as_view()),
    *platform_urls,
]
