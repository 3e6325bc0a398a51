"""The platform's routes plus the baseline: a bare Django view doing one UPDATE."""

from __future__ import annotations

import json

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from emsp.urls import urlpatterns as platform_urls
from roaming.models import Evse

from .live_session_bench import BaselineSessionView


@csrf_exempt
def baseline_update(request: HttpRequest, evse_pk: int) -> JsonResponse:
    """What the status PATCH benchmark compares against: parse the body, one UPDATE, a JSON answer."""
    body = json.loads(request.body)
    Evse.objects.filter(pk=evse_pk).update(status=body["status"])
    return JsonResponse({"status_code": 1000})


urlpatterns = [
    path("bench/baseline/<int:evse_pk>", baseline_update),
    path("bench/baseline-session/<int:session_pk>", BaselineSessionView.as_view()),
    *platform_urls,
]
