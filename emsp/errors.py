"""Django's error pages for errors raised outside any view, in the shape each kind of caller reads: the
driver API's error body under /api/, an OCPI envelope under /ocpi/, Django's pages elsewhere."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import error_body
from roaming.ocpi.views import unknown

_API_PREFIX = "/api/"


def _api(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    if not request.path.startswith(_API_PREFIX):
        return None
    return JsonResponse(error_body(status, code, message), status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _api(request, 400, "bad_request", "Bad request.") or unknown.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _api(request, 403, "permission_denied", "Forbidden.") or unknown.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _api(request, 404, "not_found", "No API endpoint at this path; see /api/v1/docs/.") or (
        unknown.page_not_found(request, exception)
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _api(request, 500, "server_error", "Something went wrong on our side; please try again.") or (
        unknown.server_error(request)
    )
