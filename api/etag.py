"""ETags on what the app polls (a live session every few seconds): an unchanged answer costs a 304 with no
body, and the app redraws only when something changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

#: For the schema: the request header, on every operation answered by `etag_response`.
PARAMETER = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the last answer: 304 with no body if nothing changed since.",
)


def etag_of(data: Any) -> str:
    """A strong ETag of what the body will hold (its JSON, keys sorted)."""
    encoded = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":")).encode()
    return '"' + hashlib.blake2b(encoded, digest_size=16).hexdigest() + '"'


def version_etag(*version: Any) -> str:
    """A strong ETag of the values an answer is built from, for an answer that costs more to build than to
    compare: the poll that changed nothing is then answered without building the body."""
    return '"v' + hashlib.blake2b(repr(version).encode(), digest_size=16).hexdigest() + '"'


def not_modified(request: Request, etag: str) -> Response | None:
    """The 304 for an app whose If-None-Match names `etag`, else None."""
    wanted = {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}
    if etag in wanted or "*" in wanted:
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return None


def etag_response(request: Request, data: Any) -> Response:
    """200 with `data` and its ETag, or 304 when the app's If-None-Match names that ETag."""
    etag = etag_of(data)
    return not_modified(request, etag) or Response(data, headers={"ETag": etag})
