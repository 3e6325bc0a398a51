"""What answers where no OCPI endpoint does, so that no answer under /ocpi/ is ever Django's HTML page.

`UnknownPathView` takes every path under /ocpi/ no route matched (an unknown module, version or object path,
a malformed id in a patterned route such as a CDR number): 404 through the same door as every endpoint, that
is after authentication (an unknown caller learns nothing about our paths), logged, with the same headers.

Django's own error pages (handler400/403/404/500 in emsp/urls.py) answer for errors raised outside the views,
in a middleware say: under /ocpi/ they give an envelope too, elsewhere Django's page.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views import defaults

from emsp.handlers import OCPI_PREFIX

from ..envelope import OcpiResponse
from ..errors import NotFound
from .base import OcpiView


class UnknownPathView(OcpiView):
    #: A partner registering with token A is told its path is wrong, not that its token is not enough.
    accepts_invitation_token = True

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> OcpiResponse:
        raise NotFound(f"No OCPI endpoint at this path: {settings.OCPI_BASE_URL}/versions lists what we serve.")

    post = put = patch = delete = options = get


# --- Django's error pages -------------------------------------------------------------------------------


def _envelope(request: HttpRequest, http_status: int, message: str) -> HttpResponse | None:
    if not request.path.startswith(OCPI_PREFIX):
        return None
    return OcpiResponse(
        status_code=3000 if http_status >= 500 else 2000, status_message=message, http_status=http_status
    )


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(request, 400, "Bad request.") or defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(request, 403, "Forbidden.") or defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _envelope(request, 404, "No OCPI endpoint at this path.") or defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    return _envelope(request, 500, "Internal server error.") or defaults.server_error(request)
