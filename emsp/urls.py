"""Top-level routes: back office (/admin/), driver API (/api/v1/), CPO partners (/ocpi/)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from emsp.health import healthz
from emsp.metrics import metrics_view

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # Invoice documents sit beside the Invoice admin's pages; listed first so the admin's catch-all doesn't take them.
    path("admin/billing/invoice/<int:pk>/", include("billing.urls")),
    path("admin/backoffice/", include("backoffice.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("ocpi/", include("roaming.ocpi.urls")),
]

# Django's error pages, for errors raised outside the views: the API's error body under /api/, OCPI
# envelopes under /ocpi/.
handler400 = "emsp.errors.bad_request"
handler403 = "emsp.errors.permission_denied"
handler404 = "emsp.errors.page_not_found"
handler500 = "emsp.errors.server_error"
