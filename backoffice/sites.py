"""The admin site with our start page: Django's admin, whose index shows the dashboard above the app list.

In INSTALLED_APPS as `backoffice.sites.BackOfficeAdminConfig` instead of `django.contrib.admin`: Django's way to
replace the default site, so every `admin.site.register` lands on it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse


class BackOfficeSite(admin.AdminSite):
    site_header = "EMSP back office"
    site_title = "EMSP back office"
    index_title = "Start"

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from backoffice.dashboard import start_page_context  # models are loaded by the time a request comes

        return super().index(request, {**start_page_context(request), **(extra_context or {})})


class BackOfficeAdminConfig(AdminConfig):
    default_site = "backoffice.sites.BackOfficeSite"
