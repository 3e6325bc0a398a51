"""The driver API, /api/v1/: one route per resource, grouped as the views are (api/views/<subject>.py).
A new endpoint goes in the module of its subject and gets one line here."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from api.views import money, prices, profile

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("me", profile.ProfileView.as_view(), name="api-profile"),
    path("plans", money.PlanListView.as_view(), name="api-plans"),
    path("me/plan", money.MyPlanView.as_view(), name="api-my-plan"),
    path("me/mandate", money.MandateView.as_view(), name="api-mandate"),
    path("me/balance", money.BalanceView.as_view(), name="api-balance"),
    path("price", prices.PriceView.as_view(), name="api-price"),
]
