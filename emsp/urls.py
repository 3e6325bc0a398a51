"""Top-level routes: back office (/admin/), driver API (/api/v1/), CPO partners (/ocpi/)."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from emsp.health import healthz

admin.site.site_header = "EMSP back office"
admin.site.site_title = "EMSP back office"

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    # Invoice documents sit beside the Invoice admin's pages; listed first so the admin's catch-all doesn't take them.
    path("admin/billing/invoice/<int:pk>/", include("billing.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("ocpi/", include("roaming.ocpi.urls")),
]

# Django's error pages, for errors raised outside the views: under /ocpi/ they are OCPI envelopes.
handler400 = "roaming.ocpi.views.unknown.bad_request"
handler403 = "roaming.ocpi.views.unknown.permission_denied"
handler404 = "roaming.ocpi.views.unknown.page_not_found"
handler500 = "roaming.ocpi.views.unknown.server_error"
