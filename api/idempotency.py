"""`Idempotency-Key` on the requests that start or stop something: a retry over a flaky mobile network must
not start a second session. The first request with a key claims it in its own transaction; the response is
stored when the view returns and replayed for a retry with the same key and body. The same key with another
body is refused (422); a retry while the first is still running gets 409, to try again shortly."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import Conflict, Unprocessable
from api.models import IdempotencyKey

HEADER = "Idempotency-Key"
#: For the schema: the header, on every operation that is `idempotent`.
PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="A unique key per intended action (e.g. a UUID). A retry with the same key and body gets the "
    "first response again instead of doing it twice. Keys are kept for 24 hours.",
)

View = Callable[..., Response]


def idempotent(method: View) -> View:
    """Decorate an APIView method (post/put/delete) whose repetition would do something twice."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return method(view, request, *args, **kwargs)
        if len(key) > 255:
            raise Unprocessable(f"{HEADER} is longer than 255 characters.", code="idempotency_key_too_long")
        body_hash = hashlib.sha256(request.body).hexdigest()
        user_id = request.user.pk
        assert user_id is not None, "idempotent views are for signed-in drivers"
        claim = _claim(request, user_id, key, body_hash)
        if claim.status_code is not None:
            return Response(claim.response, status=claim.status_code, headers={"Idempotent-Replayed": "true"})
        try:
            response = method(view, request, *args, **kwargs)
        except BaseException:
            claim.delete()  # nothing was done: the key may be used again
            raise
        if response.status_code >= 500:
            claim.delete()
        else:
            claim.status_code, claim.response = response.status_code, response.data
            claim.save(update_fields=["status_code", "response"])
        return response

    return wrapper


def _claim(request: Request, user_id: int, key: str, body_hash: str) -> IdempotencyKey:
    """This request's row for the key: new (in progress, ours to finish) or an earlier request's."""
    fresh = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    try:
        with transaction.atomic():
            IdempotencyKey.objects.filter(user_id=user_id, key=key, created_at__lt=fresh).delete()
            return IdempotencyKey.objects.create(
                user_id=user_id, key=key, method=request.method or "", path=request.path, body_hash=body_hash
            )
    except IntegrityError:
        earlier = IdempotencyKey.objects.get(user_id=user_id, key=key)
    if (earlier.method, earlier.path, earlier.body_hash) != (request.method, request.path, body_hash):
        raise Unprocessable(
            f"This {HEADER} was used for another request; use a new key for a new action.",
            code="idempotency_key_reused",
        )
    if earlier.status_code is None:
        raise Conflict("The same request is still being processed; try again in a moment.", code="in_progress")
    return earlier


def idempotency_keys_purge() -> int:
    """Forget keys older than IDEMPOTENCY_KEY_HOURS; returns how many."""
    fresh = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    return IdempotencyKey.objects.filter(created_at__lt=fresh).delete()[0]
