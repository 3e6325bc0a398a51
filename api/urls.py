"""The driver API, /api/v1/: one route per resource, grouped as the views are (api/views/<subject>.py).
A new endpoint goes in the module of its subject and gets one line here."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api.views import chargers, profile

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("me", profile.ProfileView.as_view(), name="api-profile"),
    path("chargers/near", chargers.NearView.as_view(), name="api-chargers-near"),
    path("chargers/map", chargers.MapView.as_view(), name="api-chargers-map"),
    path("chargers/locations/<int:location_id>", chargers.LocationView.as_view(), name="api-chargers-location"),
]
