"""The one OCPI client: every call we make to a partner goes through `OcpiClient`.

It sets the headers (token, request and correlation ids, routing), applies timeouts, retries what
is worth retrying with backoff (connection errors, timeouts, HTTP 5xx, OCPI 3xxx, and HTTP 429 after its
`Retry-After`), checks the
envelope, logs the exchange, and follows `Link` pagination lazily: the next URL is used exactly as the
partner (or a hub in between) gave it, and only one page is held in memory at a time.

Paging tolerates a broken `Link` (see `OcpiClient.iter_pages`): when it is missing while `X-Total-Count`
says more objects remain, points at another scheme or host than the URL we called, or fails, the rest of
the list is asked by `offset` on the URL we called, and the pages say so (`OcpiResult.paging_note`).
"""

from __future__ import annotations

import base64
import logging
import re
import time
import uuid
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.db import connections
from django.db.models import Case, Value, When
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from roaming.models import OcpiRequestLog

from .requestlog import log_exchange, request_observe
from .v2_2_1.types import dumps, loads

if TYPE_CHECKING:
    from roaming.models import Partner

logger = logging.getLogger("roaming.ocpi.client")

USER_AGENT = "emsp-platform/0.1 (OCPI 2.2.1)"
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_NEXT_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)


class OcpiClientError(Exception):
    """A failed call. `permanent` errors (4xx, OCPI 2xxx, bad envelopes) are not worth retrying; HTTP 429 is
    not permanent (the partner asks us to slow down) and says in `retry_after` how long to wait, if it does.
    `not_sent`: no connection was made (refused, unreachable, connect timeout), so the partner certainly got
    nothing: even a POST may be sent again."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        http_status: int | None = None,
        ocpi_status: int | None = None,
        retry_after: float | None = None,
        not_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.not_sent = not_sent
        self.http_status = http_status
        self.ocpi_status = ocpi_status
        self.retry_after = retry_after


@dataclass
class OcpiResult:
    data: Any
    status_code: int
    status_message: str | None
    http_status: int
    headers: requests.structures.CaseInsensitiveDict[str] = field(repr=False)
    #: Paged lists: the position of this page's first object in the whole list.
    offset: int = 0
    #: Paged lists: why this page (and the rest) was asked by offset instead of by `Link`, on the page that switched.
    paging_note: str = ""

    @property
    def next_url(self) -> str | None:
        match = _NEXT_LINK.search(self.headers.get("Link", "") or "")
        return match.group(1).strip() or None if match else None

    @property
    def total_count(self) -> int | None:
        return _header_int(self.headers, "X-Total-Count")

    @property
    def page_limit(self) -> int | None:
        return _header_int(self.headers, "X-Limit")


def _header_int(headers: requests.structures.CaseInsensitiveDict[str], name: str) -> int | None:
    value = headers.get(name)
    return int(value) if value and value.strip().isdigit() else None


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:  # a port that is no number
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _object_ids(data: list[Any]) -> list[Any]:
    """What identifies a page's objects, to notice a partner that answers the same page whatever the offset."""
    return [
        (o.get("country_code"), o.get("party_id"), o.get("id") or o.get("uid")) if isinstance(o, dict) else o
        for o in data
    ]


def encode_token(token: str, *, base64_encoded: bool = True) -> str:
    return base64.b64encode(token.encode()).decode() if base64_encoded else token


class OcpiClient:
    """Calls one partner with one token.

    `to_party` is the (country_code, party_id) addressed on functional modules; configuration modules
    (versions, credentials) go without routing headers.
    """

    def __init__(
        self,
        token: str,
        *,
        partner: Partner | None = None,
        base64_token: bool = True,
        to_party: tuple[str, str] | None = None,
        routing_headers: bool = True,
        session: requests.Session | None = None,
        timeout: float | None = None,
        retries: int | None = None,
    ) -> None:
        self.token = token
        self.partner = partner
        self.base64_token = base64_token
        self.to_party = to_party
        self.routing_headers = routing_headers  # OCPI-from/to-* exist from 2.2 on
        self.session = session or requests.Session()
        self.timeout = settings.OCPI_CLIENT_TIMEOUT if timeout is None else timeout
        self.retries = settings.OCPI_CLIENT_RETRIES if retries is None else retries
        self.correlation_id = str(uuid.uuid4())

    @classmethod
    def for_partner(cls, partner: Partner, *, to_party: tuple[str, str] | None = None, **kwargs: Any) -> OcpiClient:
        """A client for the partner; functional calls address `to_party`, by default the hub itself on a hub's
        connection (a broadcast, or a list of every party behind it), else the partner's first party."""
        from .versions import wire_for  # the registry imports the wire models; the client needs only this

        wire = wire_for(partner)
        if to_party is None and wire.routing_headers:
            role = partner.roles.order_by(
                Case(When(role="HUB", then=Value(0)), default=Value(1)), "source", "pk"
            ).first()
            to_party = (role.country_code, role.party_id) if role else None
        return cls(
            partner.outgoing_token,
            partner=partner,
            base64_token=partner.token_base64 and wire.token_base64,  # 2.1.1: raw, whatever the flag says
            to_party=to_party if wire.routing_headers else None,
            routing_headers=wire.routing_headers,
            **kwargs,
        )

    # --- verbs ------------------------------------------------------------------------------------

    def get(self, url: str, *, params: dict[str, Any] | None = None, module: str = "") -> OcpiResult:
        return self.request("GET", url, params=params, module=module)

    def post(self, url: str, body: Any, *, module: str = "", retry: bool = False) -> OcpiResult:
        """POST is not idempotent: it is retried only when the caller says it is safe."""
        return self.request("POST", url, body=body, module=module, retry=retry)

    def put(self, url: str, body: Any, *, module: str = "") -> OcpiResult:
        return self.request("PUT", url, body=body, module=module)

    def patch(self, url: str, body: Any, *, module: str = "") -> OcpiResult:
        return self.request("PATCH", url, body=body, module=module)

    def delete(self, url: str, *, module: str = "") -> OcpiResult:
        return self.request("DELETE", url, module=module)

    def iter_pages(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        module: str = "",
        prefetch: bool = False,
        offset: int = 0,
    ) -> Generator[OcpiResult, None, None]:
        """Each page of a paginated list, following `Link` as given, or by offset where `Link` fails us.

        Per page: a `Link` on the scheme and host we called is followed as given (a hub rewrites it to
        itself). Offset paging on `url` (with `params`' filters, `limit` ours or the partner's X-Limit if lower)
        takes over, for that page and the rest, when the `Link` is missing while X-Total-Count says more
        objects remain, when it points elsewhere (we never send our token to another scheme or host, and a
        partner behind a proxy may advertise `https` on a plain-HTTP server), or when it fails after the
        usual retries (connection error, 404, no JSON). Offset paging stops at X-Total-Count or on an empty
        page, and fails cleanly when a page repeats the previous one (a partner that ignores `offset`).
        No Link and no X-Total-Count is the last page. `offset` starts the list there (a resumed pull).

        Without `prefetch` a page is fetched only when the previous one has been consumed. With it, the
        next page is fetched in the background while the caller works on the current one (at most two
        pages in memory), so the partner's and the network's time overlap with ours.
        """
        if not prefetch:
            yield from self._pages(url, params, module, offset)
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ocpi-prefetch") as pool:
            pages = self._pages(url, params, module, offset)
            try:
                pending = pool.submit(next, pages, None)
                while (page := pending.result()) is not None:
                    pending = pool.submit(next, pages, None)
                    yield page
            finally:
                pending.cancel()
                wait([pending])
                pages.close()
                # Logging each request opened a database connection in that thread: close it with the thread,
                # or it stays open until garbage collection.
                pool.submit(connections.close_all)

    def _pages(
        self, url: str, params: dict[str, Any] | None, module: str, offset: int
    ) -> Generator[OcpiResult, None, None]:
        filters = {k: v for k, v in (params or {}).items() if k not in ("offset", "limit")}
        limit = (params or {}).get("limit")
        next_url = url
        next_params: dict[str, Any] | None = {**(params or {}), "offset": offset} if offset else params
        by_offset = ""  # why we page by offset, once we do
        previous_ids: list[Any] | None = None
        note = ""
        from_link = False  # the page asked is the one a Link gave
        while True:
            if by_offset:
                page = self._get_list(url, {**filters, "offset": offset, "limit": limit}, module, by_offset)
                ids = _object_ids(page.data)
                if ids and ids == previous_ids:
                    raise OcpiClientError(
                        f"{url} repeats the previous page at offset {offset}: the partner ignores `offset`, "
                        f"so the list cannot be paged ({by_offset})",
                        permanent=True,
                    )
            else:
                try:
                    page = self._get_list(next_url, next_params, module, "")
                except OcpiClientError as exc:
                    if not from_link:  # the URL we were given fails: no Link to blame
                        raise
                    by_offset = note = f"Link {next_url} failed ({exc}): offset paging from offset {offset}"
                    logger.warning("%s", by_offset)
                    continue
                ids = _object_ids(page.data)
            page.offset, page.paging_note = offset, note
            note = ""
            yield page
            offset += len(page.data)
            if page.page_limit and (limit is None or page.page_limit < int(limit)):
                limit = page.page_limit  # what the partner serves at most, where it is less than we asked
            total = page.total_count
            previous_ids = ids
            if by_offset:
                if not page.data or (total is not None and offset >= total):
                    return
                continue
            # A relative Link (RFC 8288 allows it) is read against the page's URL; an absolute one stays as given.
            following = urljoin(next_url, page.next_url) if page.next_url else None
            if following is None:
                if total is None or offset >= total or not page.data:
                    return
                by_offset = note = f"no Link while X-Total-Count is {total}: offset paging from offset {offset}"
            elif _origin(following) != _origin(url):
                by_offset = note = f"Link pointed at {following} (we called {url}): offset paging from offset {offset}"
            elif following == next_url and next_params is None:
                raise OcpiClientError(f"Pagination loop: next page of {next_url} is itself", permanent=True)
            else:
                next_url, next_params, from_link = following, None, True  # the Link carries every filter
            if note:
                logger.warning("%s", note)

    def _get_list(self, url: str, params: dict[str, Any] | None, module: str, by_offset: str) -> OcpiResult:
        try:
            page = self.get(url, params=params, module=module)
        except OcpiClientError as exc:
            if by_offset:  # the message says why we were asking by offset
                raise OcpiClientError(
                    f"{exc} ({by_offset})", permanent=exc.permanent, http_status=exc.http_status,
                    ocpi_status=exc.ocpi_status,
                ) from exc  # fmt: skip
            raise
        if not isinstance(page.data, list):
            raise OcpiClientError(
                f"Expected a list from {url}",
                permanent=True,
                http_status=page.http_status,
                ocpi_status=page.status_code,
            )
        return page

    def iter_objects(
        self, url: str, *, params: dict[str, Any] | None = None, module: str = ""
    ) -> Iterator[dict[str, Any]]:
        for page in self.iter_pages(url, params=params, module=module):
            yield from page.data

    # --- the one request path ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        module: str = "",
        retry: bool | None = None,
    ) -> OcpiResult:
        may_retry = method in IDEMPOTENT_METHODS if retry is None else retry
        attempts = 1 + (self.retries if may_retry else 0)
        for attempt in range(attempts):
            try:
                return self._send(method, url, params=params, body=body, module=module)
            except OcpiClientError as exc:
                if exc.permanent or attempt == attempts - 1:
                    raise
                delay = settings.OCPI_CLIENT_BACKOFF * (2**attempt)
                if exc.retry_after is not None:  # a 429: its wait, bounded by our own timeout
                    delay = max(delay, min(exc.retry_after, settings.OCPI_CLIENT_TIMEOUT))
                logger.warning(
                    "%s %s failed (%s), retry %d/%d in %.1fs", method, url, exc, attempt + 1, attempts - 1, delay
                )
                if delay:
                    time.sleep(delay)
        raise AssertionError("unreachable")

    def _headers(self, module: str, has_body: bool) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        headers = {
            "Authorization": f"Token {encode_token(self.token, base64_encoded=self.base64_token)}",
            "X-Request-ID": request_id,
            "X-Correlation-ID": self.correlation_id,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.routing_headers and module and module not in ("versions", "credentials", "hubclientinfo"):
            headers["OCPI-from-country-code"] = settings.OCPI_COUNTRY_CODE
            headers["OCPI-from-party-id"] = settings.OCPI_PARTY_ID
            if self.to_party:
                headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = self.to_party
        return headers

    def _send(self, method: str, url: str, *, params: dict[str, Any] | None, body: Any, module: str) -> OcpiResult:
        payload = None if body is None else dumps(body)
        headers = self._headers(module, payload is not None)
        started = time.monotonic()
        response: requests.Response | None = None
        error = ""
        ocpi_status: int | None = None
        try:
            response = self.session.request(
                method, url, params=params, data=payload, headers=headers, timeout=self.timeout
            )
            result = self._read(response)
            ocpi_status = result.status_code
            return result
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise OcpiClientError(f"{method} {url}: {error}", permanent=False, not_sent=_not_sent(exc)) from exc
        except OcpiClientError as exc:
            error = str(exc)
            ocpi_status = exc.ocpi_status
            raise
        finally:
            request_observe(
                direction="out",
                module=module,
                partner=self.partner,
                http_status=response.status_code if response is not None else None,
                seconds=time.monotonic() - started,
            )
            log_exchange(
                direction=OcpiRequestLog.Direction.OUT,
                partner=self.partner,
                module=module,
                method=method,
                url=response.url if response is not None else url,
                http_status=response.status_code if response is not None else None,
                ocpi_status=ocpi_status,
                duration_ms=int((time.monotonic() - started) * 1000),
                request_id=headers["X-Request-ID"],
                correlation_id=self.correlation_id,
                request_body=payload,
                response_body=response.content if response is not None else None,
                error=error,
            )

    def _read(self, response: requests.Response) -> OcpiResult:
        where = f"{response.request.method} {response.url}"
        if response.status_code == 429:  # rate limited: with or without an envelope, try again later
            raise OcpiClientError(
                f"{where}: HTTP 429 (rate limited)",
                permanent=False,
                http_status=429,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        try:
            document = loads(response.content)
        except ValueError:
            document = None
        if not isinstance(document, dict) or not isinstance(document.get("status_code"), int):
            permanent = response.status_code < 500
            raise OcpiClientError(
                f"{where}: HTTP {response.status_code} without an OCPI envelope",
                permanent=permanent,
                http_status=response.status_code,
            )
        status_code = document["status_code"]
        message = document.get("status_message")
        if response.status_code >= 500 or 3000 <= status_code < 4000:
            raise OcpiClientError(
                f"{where}: HTTP {response.status_code}, OCPI {status_code} {message or ''}".strip(),
                permanent=False,
                http_status=response.status_code,
                ocpi_status=status_code,
            )
        if response.status_code >= 400 or not 1000 <= status_code < 2000:
            raise OcpiClientError(
                f"{where}: HTTP {response.status_code}, OCPI {status_code} {message or ''}".strip(),
                permanent=True,
                http_status=response.status_code,
                ocpi_status=status_code,
            )
        return OcpiResult(
            data=document.get("data"),
            status_code=status_code,
            status_message=message,
            http_status=response.status_code,
            headers=response.headers,
        )


def _not_sent(exc: requests.RequestException) -> bool:
    """Whether the connection was never made, so no byte of the request left (requests wraps urllib3's
    NewConnectionError, a refused or unreachable port or a failed DNS lookup, and ConnectTimeoutError). A
    connection lost after the request went out ("Connection aborted", a read timeout) is not this."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or not exc.args:
        return False
    return isinstance(getattr(exc.args[0], "reason", None), (NewConnectionError, ConnectTimeoutError))


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (RFC 9110 also allows an HTTP date: then we use our own backoff)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
