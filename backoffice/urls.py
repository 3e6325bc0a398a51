"""Back-office pages, served inside the admin site (staff only, the admin's look)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path

from backoffice import support

app_name = "backoffice"

urlpatterns: list[URLPattern] = [
    path("drivers/", admin.site.admin_view(support.driver_search_view), name="driver_search"),
    path("drivers/<int:pk>/", admin.site.admin_view(support.driver_support_view), name="driver_support"),
]
