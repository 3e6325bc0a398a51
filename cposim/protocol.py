"""OCPI wire details shared by the server and the client side of the simulator, for every version
it speaks (what differs between versions is in `cposim.wire`).

Written from the specification (transport_and_format, types), not from any implementation, so that
the simulator and the EMSP under test cannot share a misreading.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

# OCPI status codes (spec section "status codes"); 2.1.1 has all but 2004.
SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
NOT_ENOUGH_INFORMATION = 2002
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004
SERVER_ERROR = 3000
UNABLE_TO_USE_CLIENT_API = 3001
UNSUPPORTED_VERSION = 3002
NO_MATCHING_ENDPOINTS = 3003

FOUR_PLACES = Decimal("0.0001")


def utc_now() -> datetime:
    """Wall-clock UTC time without microseconds (OCPI timestamps are second-precise here)."""
    return datetime.now(UTC).replace(microsecond=0)


def format_dt(value: datetime | int) -> str:
    """Format as the plainest allowed OCPI DateTime: always UTC, always with `Z`."""
    if isinstance(value, int):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_epoch(value: int) -> str:
    """Fast path of `format_dt` for epoch seconds; list pages format hundreds of thousands."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value))


def parse_dt(text: str) -> datetime:
    """Parse an OCPI DateTime leniently: missing `Z`, `+00:00` and any fraction are accepted.

    Real partners send all of these (field notes 7), so refusing them would only make the
    simulator harder to use; it always emits the strict form itself.
    """
    value = datetime.fromisoformat(text.strip())
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_epoch(value: datetime) -> int:
    return int(value.timestamp())


def money(value: Decimal) -> Decimal:
    """Round a money value to the 4 decimals OCPI uses by default."""
    return value.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


def _json_default(value: object) -> object:
    # Decimals are quantized before they get here, so the shortest float repr prints exactly the
    # same digits; no arithmetic is ever done on the float.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def loads(raw: bytes | str) -> Any:
    """Parse JSON keeping non-integer numbers as Decimal (money must never pass through float)."""
    return json.loads(raw, parse_float=Decimal)


def encode_token(token: str) -> str:
    """`Authorization` header value for a credentials token (2.2.1: Base64 of the UTF-8 bytes)."""
    return "Token " + base64.b64encode(token.encode()).decode()


def token_candidates(header: str | None) -> list[str]:
    """Every token an `Authorization` header could mean: the raw value and its Base64 decoding.

    Partners differ on whether they encode (field notes 1), so both readings are tried.
    """
    if not header:
        return []
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return []
    value = value.strip()
    found = [value]
    try:
        decoded = base64.b64decode(value, validate=True).decode().strip()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return found
    if decoded and decoded not in found:
        found.append(decoded)
    return found


def new_request_id() -> str:
    return str(uuid.uuid4())


@dataclass
class Response:
    """One HTTP answer: an OCPI envelope plus extra headers, or a pre-serialized body."""

    http_status: int = 200
    status_code: int = SUCCESS
    status_message: str = "Success"
    data: Any = None
    has_data: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    raw_data: bytes | None = None

    @classmethod
    def ok(cls, data: Any = None, *, http_status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(http_status=http_status, data=data, has_data=data is not None, headers=headers or {})

    @classmethod
    def error(cls, http_status: int, status_code: int, message: str) -> Response:
        return cls(http_status=http_status, status_code=status_code, status_message=message)

    def body(self) -> bytes:
        timestamp = format_dt(utc_now())
        tail = dumps({"status_code": self.status_code, "status_message": self.status_message, "timestamp": timestamp})
        if self.raw_data is not None:
            return b'{"data":' + self.raw_data + b"," + tail[1:]
        if not self.has_data:
            return tail
        return b'{"data":' + dumps(self.data) + b"," + tail[1:]
