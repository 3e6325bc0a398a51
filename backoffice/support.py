"""The support view of a driver: find the driver (name, email, card uid, visual number, contract id), then one
page with everything support needs to answer "why did my charge fail, and what did it cost?". Staff only (served
through the admin site's `admin_view`), and only for staff who may view drivers."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from backoffice.selectors_support import (
    AUTHORIZATIONS_SHOWN,
    CDRS_SHOWN,
    COMMANDS_SHOWN,
    INVOICES_SHOWN,
    REQUEST_LOG_SHOWN,
    SEARCH_RESULTS_SHOWN,
    SESSIONS_SHOWN,
    driver_support,
    drivers_search,
)
from drivers.models import Driver


def _check(request: HttpRequest) -> None:
    if not request.user.has_perm("drivers.view_driver"):
        raise PermissionDenied


def driver_search_view(request: HttpRequest) -> HttpResponse:
    """Drivers matching the search; straight to the driver's page when only one does."""
    _check(request)
    query = request.GET.get("q", "").strip()
    found = drivers_search(query) if query else []
    if len(found) == 1:
        return HttpResponseRedirect(reverse("backoffice:driver_support", args=[found[0].pk]))
    context = {
        **admin.site.each_context(request),
        "title": "Find a driver",
        "q": query,
        "found": found,
        "shown": SEARCH_RESULTS_SHOWN,
    }
    return TemplateResponse(request, "backoffice/driver_search.html", context)


def driver_support_view(request: HttpRequest, pk: int) -> HttpResponse:
    _check(request)
    driver = get_object_or_404(Driver.objects.select_related("user"), pk=pk)
    context = {
        **admin.site.each_context(request),
        "title": f"Support: {driver}",
        "support": driver_support(driver),
        "driver": driver,
        "shown": {
            "sessions": SESSIONS_SHOWN,
            "authorizations": AUTHORIZATIONS_SHOWN,
            "commands": COMMANDS_SHOWN,
            "cdrs": CDRS_SHOWN,
            "invoices": INVOICES_SHOWN,
            "request_log": REQUEST_LOG_SHOWN,
        },
    }
    return TemplateResponse(request, "backoffice/driver_support.html", context)
