"""The request-log entries of one session, CDR, authorization or command: the evidence support opens when a
driver asks "why did my charge fail?".

The log has no column naming the object an exchange was about (it is written in bulk on the hot path, and one
exchange may carry many objects: a pulled page). So an object's entries are those of its partner, written while
the object was being exchanged (a time window from its own timestamps, served by the created_at index), whose URL
or body names it: a session's id in the URL of its PUT and PATCHes or in a pulled page, an authorization's
reference in the answer to the authorize POST, a command's reference in its response_url. Ids are matched as a
whole path segment or a quoted JSON string, so a short id does not match every exchange.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from django.db.models import Q, QuerySet

from roaming.models import Authorization, Cdr, ChargingSession, Command, OcpiRequestLog

#: Our timestamps and the log's differ by the time an exchange takes (the log row is written when the answer
#: is ready) and by the bulk writer's flush; a CPO also pushes a session's last PATCH a little after it ends.
SLACK = timedelta(minutes=2)
#: A command's result comes after its deadline at the latest; without a deadline, allow this long.
COMMAND_RESULT_WINDOW = timedelta(minutes=10)


def _window(partner_id: int | None, start: datetime, end: datetime) -> Q:
    return Q(partner_id=partner_id, created_at__gte=start - SLACK, created_at__lte=end + SLACK)


def _in_url(value: str) -> Q:
    """`value` as a whole segment of the URL path (`/sessions/NL/CPO/<id>`, `/<id>/authorize`, `/<id>?...`)."""
    return Q(url__endswith=f"/{value}") | Q(url__contains=f"/{value}/") | Q(url__contains=f"/{value}?")


def _in_body(value: str, field: str = "request_body") -> Q:
    return Q(**{f"{field}__contains": f'"{value}"'})


def session_log_q(session: ChargingSession) -> Q:
    """Its PUT and PATCHes (URL), the page of a pull that brought it (answer), a STOP_SESSION or charging
    preferences naming it (request body or URL)."""
    names = _in_url(session.ocpi_id) | _in_body(session.ocpi_id) | _in_body(session.ocpi_id, "response_body")
    return _window(session.partner_id, session.created_at, max(session.updated_at, session.created_at)) & names


def cdr_log_q(cdr: Cdr) -> Q:
    """The POST that brought it (its id in the body) or the page of a pull (answer), and reads of it by URL."""
    names = _in_body(cdr.ocpi_id) | _in_body(cdr.ocpi_id, "response_body") | (_in_url(str(cdr.pk)) & Q(module="cdrs"))
    return _window(cdr.partner_id, cdr.received_at, cdr.received_at) & names


def authorization_log_q(authorization: Authorization) -> Q:
    """The authorize POST (our answer carries the reference; a refusal for an unknown token does not, but its URL
    names the uid), or the command whose body carries the reference."""
    uid = authorization.token.uid if authorization.token else authorization.token_uid
    names = _in_body(authorization.reference, "response_body") | _in_body(authorization.reference)
    if uid:
        names |= Q(url__icontains=f"/{uid}/authorize")
    return _window(authorization.partner_id, authorization.created_at, authorization.created_at) & names


def command_log_q(command: Command) -> Q:
    """Our POST (its response_url names the reference) and the CPO's result POSTed to that URL."""
    reference = str(command.reference)
    end = command.result_at or command.deadline or command.created_at + COMMAND_RESULT_WINDOW
    names = Q(request_body__contains=reference) | _in_url(reference)
    return _window(command.partner_id, command.created_at, max(end, command.created_at)) & names


def request_log_matching(q: Q, *, limit: int = 50) -> list[OcpiRequestLog]:
    """The newest entries matching `q`, without their bodies (a page of pulled sessions is large)."""
    return list(
        OcpiRequestLog.objects.filter(q)
        .select_related("partner")
        .defer("request_body", "response_body")
        .order_by("-created_at", "-pk")[:limit]
    )


def request_log_for(q: Q) -> QuerySet[OcpiRequestLog]:
    return OcpiRequestLog.objects.filter(q)


_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")
_AUTHORIZATION_REFERENCE = re.compile(r'"authorization_reference"\s*:\s*"([^"]{1,36})"')


def _after(segments: list[str], name: str, count: int) -> list[str]:
    """The `count` path segments after the last `name` (e.g. the party and id after "sessions")."""
    if name not in segments:
        return []
    index = len(segments) - 1 - segments[::-1].index(name)
    found = segments[index + 1 : index + 1 + count]
    return found if len(found) == count else []


def request_log_subjects(entry: OcpiRequestLog) -> list[Authorization | Cdr | ChargingSession | Command]:
    """What one exchange was about, as far as its URL and bodies tell: the session of a PUT or PATCH, the CDR of
    a POST, the authorization of an authorize, the command of a command or its result (the other direction of
    the filters above, for the entry's own page)."""
    segments = [segment for segment in unquote(urlsplit(entry.url).path).split("/") if segment]
    found: list[Authorization | Cdr | ChargingSession | Command] = []
    if entry.module == "sessions" and (party_and_id := _after(segments, "sessions", 3)):
        found += ChargingSession.objects.filter(
            country_code__iexact=party_and_id[0], party_id__iexact=party_and_id[1], ocpi_id=party_and_id[2]
        )[:1]
    elif entry.module == "sessions" and entry.partner_id and (session_id := _after(segments, "sessions", 1)):
        found += ChargingSession.objects.filter(partner_id=entry.partner_id, ocpi_id=session_id[0])[:1]
    if entry.module == "cdrs" and entry.method == "POST":
        try:
            body = json.loads(entry.request_body)
            found += Cdr.objects.filter(
                country_code=body["country_code"], party_id=body["party_id"], ocpi_id=body["id"]
            )[:1]
        except (ValueError, KeyError, TypeError):
            pass  # cut off in the log, or not a CDR at all
    reference = _AUTHORIZATION_REFERENCE.search(entry.response_body) if "authorize" in segments else None
    if entry.module == "tokens" and reference:
        found += Authorization.objects.filter(reference=reference.group(1))[:1]
    if entry.module == "commands":
        references = _UUID.findall(entry.url if entry.direction == OcpiRequestLog.Direction.IN else entry.request_body)
        if references:
            found += Command.objects.filter(reference__in=references[:5])[:1]
    return found
