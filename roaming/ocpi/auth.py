"""Who is calling: the `Authorization: Token ...` header mapped to a partner and its parties.

OCPI 2.2.1 says the token is base64-encoded; many 2.1.1 and 2.2 platforms send it raw. We accept
both by looking up either reading of the header in one query.

A big CPO pushes thousands of status changes a minute, so functional modules use a small per-process
cache of recent look-ups (OCPI_AUTH_CACHE_SECONDS). The credentials module never does: registration,
rotation and unregistration always see the database, and clear this process's cache when they change
tokens. Other processes may accept a revoked token for at most the cache lifetime.

Failed authentications are counted per source address in the shared cache (Redis): past
OCPI_AUTH_FAILURE_LIMIT within OCPI_AUTH_FAILURE_WINDOW_SECONDS, a wrong token gets 429 (an envelope with
Retry-After) instead of 401. Only failures touch the cache, so a partner's good requests cost no Redis round
trip, and a good token keeps working from an address that is throttled (a partner behind the same NAT as a
misconfigured one is not locked out; tokens are 256-bit random, guessing is not what this stops). With the cache
down the count is skipped: authentication fails open to plain 401s, never to an error.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from roaming.models import CredentialsToken, Partner, hash_token

from .errors import TooManyAuthFailures, Unauthorized

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    partner: Partner
    credentials_token: CredentialsToken
    token: str  # the token as presented, decoded; echoed by credentials GET (we only keep its hash)
    parties: frozenset[tuple[str, str]]  # (country_code, party_id) of the partner's roles, upper case

    @property
    def is_invitation(self) -> bool:
        return self.credentials_token.kind == CredentialsToken.Kind.INVITATION


_cache: dict[str, tuple[float, Caller]] = {}
_cache_lock = threading.Lock()


def forget_cached_callers() -> None:
    """Drop cached look-ups, e.g. after tokens changed."""
    with _cache_lock:
        _cache.clear()


def token_candidates(header: str) -> list[str]:
    """The raw token and, when it decodes, its base64 reading."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii").strip()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded and decoded.isprintable() and decoded != value:
        candidates.insert(0, decoded)
    return candidates


def authenticate(request: HttpRequest, *, use_cache: bool = True) -> Caller:
    """The caller of `request`; `Unauthorized`, or `TooManyAuthFailures` once its address failed too often."""
    try:
        return _authenticate(request, use_cache=use_cache)
    except Unauthorized:
        _count_failure(request)
        raise


def _count_failure(request: HttpRequest) -> None:
    limit = settings.OCPI_AUTH_FAILURE_LIMIT
    if limit <= 0:
        return
    window = settings.OCPI_AUTH_FAILURE_WINDOW_SECONDS
    source = BaseThrottle().get_ident(request)  # type: ignore[arg-type]  # reads only META (NUM_PROXIES as the API)
    key = f"ocpi-auth-failures:{source}"
    try:
        cache.add(key, 0, timeout=window)  # the window opens at the first failure
        failures = cache.incr(key)
    except Exception as exc:  # the cache (Redis) is down: fail open, a plain 401
        logger.warning("OCPI authentication failures not counted (cache unavailable: %s)", type(exc).__name__)
        return
    if failures == limit + 1:
        logger.warning("OCPI authentication throttled for %s: %d failures within %d s", source, limit + 1, window)
    if failures > limit:
        raise TooManyAuthFailures(
            f"Too many requests with an unknown or invalid token from this address: try again within {window} s.",
            retry_after=window,
        )


def _authenticate(request: HttpRequest, *, use_cache: bool) -> Caller:
    header = request.headers.get("Authorization", "")
    ttl = settings.OCPI_AUTH_CACHE_SECONDS if use_cache else 0
    if ttl:
        with _cache_lock:
            hit = _cache.get(header)
        if hit and hit[0] > time.monotonic():
            caller = hit[1]
            _check_usable(caller.credentials_token, caller.partner)
            return caller
    caller = _lookup(header)
    if ttl:
        with _cache_lock:
            if len(_cache) > 10_000:
                _cache.clear()
            _cache[header] = (time.monotonic() + ttl, caller)
    return caller


def _lookup(header: str) -> Caller:
    candidates = token_candidates(header)
    if not candidates:
        raise Unauthorized("Missing or malformed Authorization header: expected 'Token <credentials token>'.")
    hashes = {hash_token(candidate): candidate for candidate in candidates}
    stored = CredentialsToken.objects.select_related("partner").filter(token_hash__in=list(hashes)).first()
    if stored is None:
        raise Unauthorized("Unknown credentials token.")
    _check_usable(stored, stored.partner)
    parties = frozenset(
        (cc.upper(), pid.upper()) for cc, pid in stored.partner.roles.values_list("country_code", "party_id")
    )
    return Caller(partner=stored.partner, credentials_token=stored, token=hashes[stored.token_hash], parties=parties)


def _check_usable(stored: CredentialsToken, partner: Partner) -> None:
    if stored.valid_until is not None and stored.valid_until <= timezone.now():
        raise Unauthorized("Credentials token has expired.")
    if partner.status in (Partner.Status.SUSPENDED, Partner.Status.UNREGISTERED):
        raise Unauthorized(f"The connection is {partner.status}.")
