"""Back-office pages, served inside the admin site (staff only, the admin's look)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
