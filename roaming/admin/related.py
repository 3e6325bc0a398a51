"""One click between related roaming objects: the request-log entries of a session, CDR, authorization or command
(list filters taking the object's id, e.g. /admin/roaming/ocpirequestlog/?session=12), and the links each change
page shows to its neighbours."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from drivers.models import Driver
from emsp.lib.admin import admin_link, changelist_link
from roaming.models import Authorization, Cdr, ChargingSession, Command, OcpiRequestLog
from roaming.selectors_requestlog import authorization_log_q, cdr_log_q, command_log_q, session_log_q


class _AboutFilter(admin.SimpleListFilter):
    """Rows about one object, given by its id in the URL (`condition` says which rows); shown in the sidebar
    (with "All" to leave it) only when given."""

    model: type[Model]

    def condition(self, subject: Any) -> Q:
        raise NotImplementedError

    def subject(self) -> Model | None:
        if not hasattr(self, "_subject"):
            value = self.value() or ""
            self._subject = self.model._default_manager.filter(pk=value).first() if value.isdigit() else None
        return self._subject

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        subject = self.subject()
        return [(value, str(subject) if subject is not None else f"#{value} (not found)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.value():
            return queryset
        subject = self.subject()
        return queryset.none() if subject is None else queryset.filter(self.condition(subject))


class SessionLogFilter(_AboutFilter):
    title = "session"
    parameter_name = "session"
    model = ChargingSession

    def condition(self, subject: ChargingSession) -> Q:
        return session_log_q(subject)


class CdrLogFilter(_AboutFilter):
    title = "CDR"
    parameter_name = "cdr"
    model = Cdr

    def condition(self, subject: Cdr) -> Q:
        return cdr_log_q(subject)


class AuthorizationLogFilter(_AboutFilter):
    title = "authorization"
    parameter_name = "authorization"
    model = Authorization

    def condition(self, subject: Authorization) -> Q:
        return authorization_log_q(subject)


class CommandLogFilter(_AboutFilter):
    title = "command"
    parameter_name = "command"
    model = Command

    def condition(self, subject: Command) -> Q:
        return command_log_q(subject)


class CardDriverFilter(_AboutFilter):
    """Rows of one driver's cards (authorizations, commands): ?driver=<id>, e.g. from the support page (the
    admin refuses a lookup two relations deep, token__driver, that no list filter declares)."""

    title = "driver"
    parameter_name = "driver"
    model = Driver

    def condition(self, subject: Driver) -> Q:
        return Q(token__driver=subject)


REQUEST_LOG_FILTERS = (SessionLogFilter, CdrLogFilter, AuthorizationLogFilter, CommandLogFilter)


def request_log_link(subject: Model, text: str = "Request log") -> SafeString:
    """The request-log entries about a session, CDR, authorization or command (see the filters above)."""
    parameter = next(f.parameter_name for f in REQUEST_LOG_FILTERS if isinstance(subject, f.model))
    return changelist_link(OcpiRequestLog, text, **{parameter: subject.pk})


def related_first(fields: Sequence[Any], *names: str) -> list[Any]:
    """A change page's fields with the links to related objects (`names`, default "related") on top, where staff
    look first."""
    names = names or ("related",)
    return [*names, *(field for field in fields if field not in names)]


def links(*items: tuple[str, Any]) -> SafeString:
    """A change page's "related" field: one labelled link (or "-") per line."""
    return format_html_join(
        "", "<div><strong>{}:</strong> {}</div>", ((label, value if value else "-") for label, value in items)
    )


def object_links(objects: list[Any]) -> SafeString | str:
    """Links to a few objects, comma-separated."""
    return format_html_join(", ", "{}", ((admin_link(obj),) for obj in objects)) if objects else "-"


def filter_link(title: str, **params: Any) -> SafeString:
    """A small link that narrows the list shown to the rows of one related object (e.g. one driver's sessions)."""
    return format_html(' <a href="?{}" title="{}" class="filter-link">▾</a>', urlencode(params), title)
