"""OCPI 2.2.1 shared types, the base models, and the JSON helpers every module uses.

Reference: OCPI 2.2.1 types.asciidoc (CiString, string, DateTime, number, URL, DisplayText, Price, Role)
and transport_and_format.asciidoc (response envelope).

Reading is tolerant, writing is strict:

* Models keep unknown fields (`extra="allow"`), so the platform can store the rest of an object exactly
  as the partner sent it.
* Enum-typed fields accept values the spec does not list (see `OpenEnum`).
* `DateTime` accepts the shapes partners really send (no `Z`, `+00:00`, other offsets, 0-9 fractional
  digits) and always writes `...Z`.
* Lengths from the spec (`CiString(36)`, `string(255)`, ...) are enforced: a value that does not fit
  our columns must be refused with a clear message rather than truncated somewhere later. The same
  holds for what the spec leaves open: unknown enum values (`OPEN_ENUM_MAX_LENGTH`), numbers
  (`NUMBER_LIMIT`), integers (`NonNegativeInt`). Every value a model accepts fits its column.

Numbers are `Decimal` end to end. pydantic's own JSON parser reads JSON numbers as floats (it turns
`2.00` into `Decimal("2")` and drops digits after the 17th), so parse request bodies with `loads()` /
`parse_json()` here, which read numbers straight into `Decimal`, and write with `dumps()`, which prints
them digit for digit.
"""

from __future__ import annotations

import json
import json.encoder
import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, StrEnum
from functools import cache, partial
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

logger = logging.getLogger("roaming.ocpi")

_T = TypeVar("_T")

# --------------------------------------------------------------------------------------------------
# DateTime
# --------------------------------------------------------------------------------------------------

# The spec allows `2015-06-29T20:39:09Z` and `2015-06-29T20:39:09` (both UTC) with optional fractional
# seconds. Partners also send `+00:00` and other offsets (field notes §7), so those are read and
# converted to UTC. Anything else (no seconds, no time, a bare date, words) is refused.
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})"
    r"(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<off_h>\d{2}):?(?P<off_m>\d{2}))?"
)

# The common case of the above: UTC as `Z`, 0-6 fractional digits (`datetime.fromisoformat` reads it).
_UTC_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")


def parse_datetime(value: str) -> datetime:
    """An OCPI DateTime string as an aware `datetime` in UTC; `ValueError` if it is not one.

    Use it for query parameters (`date_from`, `date_to`) and headers as well as inside models.
    Fractional digits beyond microseconds are dropped (not rounded).
    """
    if _UTC_DATETIME_RE.fullmatch(value):
        # What partners send nearly always (`2015-06-29T20:39:09Z`, `.123Z`): read in C. The same datetime as
        # below; a date that does not exist (February 30th) is left to the general path, for its message.
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    match = _DATETIME_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an OCPI DateTime (expected e.g. 2015-06-29T20:39:09Z): {value!r}")
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    tz = UTC
    if match["sign"]:
        offset = timedelta(hours=int(match["off_h"]), minutes=int(match["off_m"]))
        try:
            tz = timezone(-offset if match["sign"] == "-" else offset)
        except ValueError as exc:
            raise ValueError(f"not an OCPI DateTime (bad UTC offset): {value!r}") from exc
    try:
        parsed = datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"]),
            int(fraction),
            tzinfo=tz,
        ).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"not an OCPI DateTime ({exc}): {value!r}") from exc
    return parsed


def format_datetime(value: datetime) -> str:
    """`YYYY-MM-DDTHH:MM:SS[.fff]Z` in UTC; naive datetimes are taken to be UTC already.

    Milliseconds are written only when non-zero; anything below a millisecond is truncated, which keeps
    the text within the spec's string(25).
    """
    if value.tzinfo is not UTC:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # isoformat (C) pads the year to four digits and truncates to milliseconds; its "+00:00" becomes "Z".
    return value.isoformat(timespec="milliseconds" if value.microsecond >= 1000 else "seconds")[:-6] + "Z"


def _validate_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError:
            pass
    raise PydanticCustomError("ocpi_datetime", "Invalid DateTime, expected e.g. 2015-06-29T20:39:09Z")


#: An OCPI DateTime: an aware `datetime` in UTC in Python, `...Z` text in JSON.
DateTime: TypeAlias = Annotated[
    datetime,
    PlainValidator(_validate_datetime, json_schema_input_type=str),
    PlainSerializer(format_datetime, return_type=str, when_used="json"),
]

# --------------------------------------------------------------------------------------------------
# Strings
# --------------------------------------------------------------------------------------------------


def _check_ci_string(value: str) -> str:
    # CiString: printable ASCII only. Case-insensitivity is a matter for comparisons (the platform
    # upper-cases country_code/party_id when matching); the value is kept as sent.
    if not (value.isascii() and value.isprintable()):
        raise PydanticCustomError("ci_string", "Must contain printable ASCII characters only")
    return value


def _check_credentials_token(value: str) -> str:
    if not (value.isascii() and value.isprintable()) or " " in value:
        raise PydanticCustomError("ocpi_token", "Must contain printable non-whitespace ASCII characters only")
    return value


_CI = AfterValidator(_check_ci_string)

# CiString(n): case-insensitive, printable ASCII, at most n characters.
CiString2: TypeAlias = Annotated[str, StringConstraints(max_length=2), _CI]
CiString3: TypeAlias = Annotated[str, StringConstraints(max_length=3), _CI]
CiString4: TypeAlias = Annotated[str, StringConstraints(max_length=4), _CI]
CiString32: TypeAlias = Annotated[str, StringConstraints(max_length=32), _CI]
CiString36: TypeAlias = Annotated[str, StringConstraints(max_length=36), _CI]
CiString39: TypeAlias = Annotated[str, StringConstraints(max_length=39), _CI]
CiString48: TypeAlias = Annotated[str, StringConstraints(max_length=48), _CI]
CiString255: TypeAlias = Annotated[str, StringConstraints(max_length=255), _CI]  # 2.3.0 invoice_id
CiString5: TypeAlias = Annotated[str, StringConstraints(max_length=5), _CI]  # 2.3.0 hub_party_id
CiString25: TypeAlias = Annotated[str, StringConstraints(max_length=25), _CI]  # 2.3.0 help_phone

# string(n): case-sensitive UTF-8, at most n characters. The spec also forbids CR/LF/TAB; we do not
# refuse those (a line break in a partner's `directions` text is not worth refusing a Location for).
String2: TypeAlias = Annotated[str, StringConstraints(max_length=2)]
String3: TypeAlias = Annotated[str, StringConstraints(max_length=3)]
String4: TypeAlias = Annotated[str, StringConstraints(max_length=4)]
String10: TypeAlias = Annotated[str, StringConstraints(max_length=10)]
String16: TypeAlias = Annotated[str, StringConstraints(max_length=16)]
String20: TypeAlias = Annotated[str, StringConstraints(max_length=20)]
String45: TypeAlias = Annotated[str, StringConstraints(max_length=45)]
String64: TypeAlias = Annotated[str, StringConstraints(max_length=64)]
String100: TypeAlias = Annotated[str, StringConstraints(max_length=100)]
String255: TypeAlias = Annotated[str, StringConstraints(max_length=255)]
String512: TypeAlias = Annotated[str, StringConstraints(max_length=512)]
String5000: TypeAlias = Annotated[str, StringConstraints(max_length=5000)]

#: URL is string(255) in the spec; kept as text (partners' URLs are not always RFC-clean, and we only
#: ever hand them back to HTTP clients).
URL: TypeAlias = String255

#: Local time of day "HH:MM" (RegularHours, TariffRestrictions). The spec's pattern, plus "24:00",
#: which partners send for "end of day" (the spec wants "00:00" there); the consumer must treat both alike.
TimeOfDay: TypeAlias = Annotated[str, StringConstraints(pattern=r"^(([0-1][0-9]|2[0-3]):[0-5][0-9]|24:00)$")]

#: Local date "YYYY-MM-DD" (TariffRestrictions start_date/end_date), string(10).
LocalDate: TypeAlias = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]

#: Credentials.token: string(64) of printable, non-whitespace ASCII.
CredentialsTokenString: TypeAlias = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_check_credentials_token)
]

# --------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------


def decimal_to_json_number(value: Decimal) -> int | float:
    """A `Decimal` as the Python number that `json` / pydantic print with the same digits.

    Used only by `model_dump(mode="json")` / `model_dump_json()`, whose output must be plain JSON
    types. Values without a fractional part become `int` (exact at any size). Others become the
    `float` whose shortest repr has exactly the Decimal's digits, which holds for every value with up
    to 15 significant digits (all money and volumes OCPI carries) and for the 16-17 digit float
    artefacts partners produce (`41.120000000000005`). Anything longer cannot be a JSON number in a
    Python dict without rounding: it is rounded to the nearest float and a warning is logged.
    `dumps()` does not go through this and is exact for any Decimal.
    """
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= 0:
        return int(value)
    as_float = float(value)
    if Decimal(repr(as_float)) != value:
        logger.warning("Decimal %s rounded to %r for model_dump(mode='json'); dumps() keeps it exact", value, as_float)
    return as_float


#: The largest magnitude of an OCPI `number` we read. The spec gives numbers 4 decimals and "a sufficiently
#: large amount of digits"; our columns are DECIMAL(12, 4), so eight integer digits, more than any price,
#: energy (100 GWh) or duration needs. A value beyond its column must be refused here: PostgreSQL fails the
#: whole write on it.
NUMBER_LIMIT = Decimal("99999999.9999")

#: OCPI `number`: a `Decimal` in Python (never float), a JSON number on the wire, within ±NUMBER_LIMIT.
Number: TypeAlias = Annotated[
    Decimal,
    Field(ge=-NUMBER_LIMIT, le=NUMBER_LIMIT),
    PlainSerializer(decimal_to_json_number, return_type=Any, when_used="json"),
]

#: OCPI `int` for what is counted or measured in whole units (volts, amperes, watts, Wh, seconds, pixels):
#: never negative, and at most what an integer column holds.
NonNegativeInt: TypeAlias = Annotated[int, Field(ge=0, le=2_147_483_647)]

# --------------------------------------------------------------------------------------------------
# Lists by cardinality
# --------------------------------------------------------------------------------------------------


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


#: Cardinality `*`: optional list. A `null` from the partner reads as an empty list.
#: Use with `= Field(default_factory=list)`.
OptionalList: TypeAlias = Annotated[list[_T], BeforeValidator(_none_as_empty_list)]

#: Cardinality `+`: required list with at least one item.
NonEmptyList: TypeAlias = Annotated[list[_T], Field(min_length=1)]

# --------------------------------------------------------------------------------------------------
# Open enums
# --------------------------------------------------------------------------------------------------
#
# Why open: a CPO that starts sending a value from a newer spec edition (OCPI 2.3.0 adds
# ConnectorType `MCS`, new Facility values, ...) or a vendor value must not make us refuse its whole
# Location or CDR: a refused push is lost (the spec forbids retrying) and the partner sees 2001 for
# data that is fine for everything but one label. So every enum-typed field is an `OpenEnum[X]`: a
# known value becomes the `X` member, an unknown string is kept as the plain `str` the partner sent,
# and a warning goes to the `roaming.ocpi` logger. Non-string values are still refused.
#
# Consequences for code that uses the models: compare with the enum (`evse.status == Status.CHARGING`
# works for both, since the members are `StrEnum`s) and treat "not a member" as "unknown", e.g.
# `isinstance(evse.status, Status)` before relying on the value, and store `str(value)`.
#
# An unknown value is kept only up to OPEN_ENUM_MAX_LENGTH characters, the length of the longest value the
# spec defines (START_SESSION_CONNECTOR_REQUIRED) and of every column that stores enum values; a longer
# one is refused (2001) rather than cut or left to fail in the database.

_E = TypeVar("_E", bound=StrEnum)

OPEN_ENUM_MAX_LENGTH = 32


def _validate_open_enum(enum_cls: type[StrEnum], value: Any) -> StrEnum | str:
    if isinstance(value, str):
        # The members by value (what `enum_cls(value)` looks up, without its call: a page of 1,000 locations
        # holds 60,000 enum values). A member is a str too, and maps to itself.
        member = enum_cls._value2member_map_.get(value)
        if isinstance(member, enum_cls):
            return member
        if len(value) > OPEN_ENUM_MAX_LENGTH:
            raise PydanticCustomError(
                "ocpi_enum_length",
                "Unknown {enum} value: at most {max_length} characters, got {length}",
                {"enum": enum_cls.__name__, "max_length": OPEN_ENUM_MAX_LENGTH, "length": len(value)},
            )
        logger.warning("Unknown OCPI %s value %r: kept as sent", enum_cls.__name__, value)
        return str(value)
    raise PydanticCustomError("ocpi_enum", "Input should be a string ({enum} value)", {"enum": enum_cls.__name__})


def _serialize_open_enum(value: StrEnum | str) -> str:
    return value.value if isinstance(value, Enum) else value


@cache
def _open_enum_type(enum_cls: type[StrEnum]) -> Any:
    return Annotated[
        enum_cls | str,
        PlainValidator(partial(_validate_open_enum, enum_cls), json_schema_input_type=str),
        PlainSerializer(_serialize_open_enum, return_type=str, when_used="json"),
    ]


if TYPE_CHECKING:
    #: `OpenEnum[Status]`: a `Status` member, or the unknown value as a plain `str`.
    OpenEnum: TypeAlias = _E | str
else:

    class OpenEnum:
        """`OpenEnum[Status]`: a `Status` member, or the unknown value as a plain `str` (logged)."""

        def __class_getitem__(cls, enum_cls: type[StrEnum]) -> Any:
            return _open_enum_type(enum_cls)


# --------------------------------------------------------------------------------------------------
# Base models
# --------------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Raw partner data (model extras) as plain JSON types, Decimals as exact numbers."""
    if isinstance(value, Decimal):
        return decimal_to_json_number(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


#: The value of an unknown field (`OcpiModel.__pydantic_extra__`).
_ExtraValue: TypeAlias = Annotated[Any, PlainSerializer(_jsonable, return_type=Any, when_used="json")]


class OcpiModel(BaseModel):
    """Base of every OCPI object: tolerant reading, unknown fields kept in `model_extra`.

    `validate_by_name` + `validate_by_alias` is the pydantic 2.11+ spelling of `populate_by_name`.
    `coerce_numbers_to_str`: partners send ids such as `"physical_reference": 3` as numbers.
    """

    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        frozen=False,
        allow_inf_nan=False,
        coerce_numbers_to_str=True,
    )

    # Unknown fields are kept as parsed (numbers as Decimals, so that `dumps()` writes them digit for digit); in
    # JSON mode `_jsonable` gives them the same number treatment as declared fields (pydantic would write
    # Decimals it does not know about as strings). A serializer on the extras' values rather than a wrap
    # serializer of the whole model: pydantic then calls Python only for the extras, not for every model in
    # the tree; measured, a CDR's dump took 115 µs instead of 175 µs.
    __pydantic_extra__: dict[str, _ExtraValue]


class PatchModel(OcpiModel):
    """Base of the PATCH bodies: every field optional except `last_updated` (spec: a PATCH must carry it).

    PATCH cannot remove information (transport_and_format, "PATCH"), so `changes()` leaves out fields
    the partner set to `null`; unknown fields are in `model_extra`.
    """

    last_updated: DateTime

    def changes(self) -> dict[str, Any]:
        """The declared fields the partner sent with a non-null value (Python objects, not JSON)."""
        fields = type(self).model_fields
        return {
            name: getattr(self, name)
            for name in self.model_fields_set
            if name in fields and getattr(self, name) is not None
        }


# --------------------------------------------------------------------------------------------------
# Shared classes and enums (types.asciidoc)
# --------------------------------------------------------------------------------------------------


class Role(StrEnum):
    CPO = "CPO"
    EMSP = "EMSP"
    HUB = "HUB"
    NAP = "NAP"
    NSP = "NSP"
    OTHER = "OTHER"
    SCSP = "SCSP"


class DisplayText(OcpiModel):
    language: String2
    text: String512


class Price(OcpiModel):
    excl_vat: Number
    incl_vat: Number | None = None


class Envelope(OcpiModel):
    """The response envelope around every OCPI answer, errors included.

    `data` is left as parsed JSON; validate it with the model the endpoint promises, e.g.
    `parse_data(list[Location], envelope.data)`. `None` data is omitted by `dumps()`, as the spec
    advises for answers that have no data.
    """

    data: Any = None
    status_code: int
    status_message: str | None = None
    timestamp: DateTime


# --------------------------------------------------------------------------------------------------
# JSON in and out
# --------------------------------------------------------------------------------------------------


class JsonLimitError(ValueError):
    """Valid JSON beyond what we read (RFC 8259 §9 lets a parser set such limits); see `loads()`."""


#: Deepest nesting of objects and arrays we read. OCPI objects nest about 8 deep (CDR > tariffs > elements >
#: restrictions > day_of_week); the code that stores a partner's unknown fields walks them recursively.
MAX_JSON_DEPTH = 64
#: Largest decimal exponent of a number we read: PostgreSQL refuses numeric text beyond e±1000, and
#: `int(Decimal("1e999999999"))`, which storing such a number in a JSON column does, builds a billion digits.
MAX_JSON_EXPONENT = 1000

# A character no database column can hold: NUL (PostgreSQL text and jsonb refuse it) and lone surrogates
# (no UTF-8 encoding exists for them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not -MAX_JSON_EXPONENT <= value.adjusted() <= MAX_JSON_EXPONENT:
        raise JsonLimitError(f"number out of range (beyond 1e±{MAX_JSON_EXPONENT}): {text[:20]}")
    return value


def _check_tree(data: Any, *, depth: bool, strings: bool) -> None:
    """Nesting depth and/or storable strings of parsed JSON, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            items: Any = value.values()
            if strings and any(_UNSTORABLE.search(key) for key in value):
                raise JsonLimitError("a key contains NUL (\\u0000) or a lone surrogate")
        elif isinstance(value, list):
            items = value
        else:
            continue
        if depth and level > MAX_JSON_DEPTH:
            raise JsonLimitError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        for item in items:
            if isinstance(item, dict | list):
                stack.append((item, level + 1))
            elif strings and isinstance(item, str) and _UNSTORABLE.search(item):
                kind = "NUL (\\u0000)" if "\x00" in item else "a lone surrogate"
                raise JsonLimitError(f"a string contains {kind}, which cannot be stored")


def loads(body: bytes | str) -> Any:
    """JSON text as Python data with every non-integer number as an exact `Decimal`.

    Raises `ValueError`: `json.JSONDecodeError` or `UnicodeDecodeError` for a body that is not JSON in UTF-8,
    `JsonLimitError` for JSON we do not read: nested deeper than MAX_JSON_DEPTH, a non-integer number beyond
    1e±MAX_JSON_EXPONENT (Python itself refuses integers over 4300 digits), a NUL or lone surrogate in a string
    (no column can store them; a raw control character is malformed JSON already).

    Cost: a parse hook per non-integer number, two character counts and a search of the text. Only text
    that may fail a check (more brackets than MAX_JSON_DEPTH, a `\\u0000` or `\\uD...` escape) is walked
    once more after parsing.
    """
    # UTF-8 only, as the spec says (json.loads would also read UTF-16 and UTF-32, which the checks below do
    # not see through); a byte order mark is tolerated.
    text = body.decode() if isinstance(body, bytes) else body
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, parse_float=_decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise JsonLimitError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
    escapes = "\\u" in text and ("\\u0000" in text or "\\ud" in text or "\\uD" in text)
    if deep or escapes:
        _check_tree(data, depth=deep, strings=escapes)
    return data


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parse_data(tp: type[_T], data: Any) -> _T:
    """Already-decoded JSON data (e.g. `Envelope.data`) validated as `tp` (a model or `list[Model]`)."""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp.model_validate(data)
    adapter = _ADAPTERS.get(tp)
    if adapter is None:
        adapter = _ADAPTERS[tp] = TypeAdapter(tp)
    result: _T = adapter.validate_python(data)
    return result


def parse_json(tp: type[_T], body: bytes | str) -> _T:
    """A request/response body as `tp`, numbers read exactly.

    Raises `ValueError` subclasses only: `json.JSONDecodeError`/`UnicodeDecodeError` when the body is
    not JSON (answer HTTP 400), `pydantic.ValidationError` when it is JSON of the wrong shape (answer
    OCPI 2001 with `describe_validation_error(exc)`).
    """
    return parse_data(tp, loads(body))


# A JSON string literal, non-ASCII kept as is: what json.dumps(text, ensure_ascii=False) gives, without
# building an encoder for every string.
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _encode(value: Any, out: list[str], exclude_none: bool) -> None:
    # Checked in this order because bool is an int and StrEnum members are strs.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_quote(str(value)))
    elif isinstance(value, int):
        out.append(int.__repr__(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        # Fixed-point text of the Decimal itself: Decimal("2.875") -> 2.875, Decimal("10") -> 10,
        # Decimal("2.00") -> 2.00, Decimal("1E+1") -> 10. No float is involved at any point.
        out.append(format(value, "f"))
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value} is not a JSON number")
        out.append(float.__repr__(value))
    elif isinstance(value, datetime):
        out.append(_quote(format_datetime(value)))
    elif isinstance(value, date):
        out.append(_quote(value.isoformat()))
    elif isinstance(value, Enum):
        _encode(value.value, out, exclude_none)
    elif isinstance(value, BaseModel):
        _encode(value.model_dump(mode="python", exclude_none=exclude_none), out, exclude_none)
    elif isinstance(value, Mapping):
        out.append("{")
        first = True
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if not first:
                out.append(",")
            first = False
            out.append(_quote(key))
            out.append(":")
            _encode(item, out, exclude_none)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, exclude_none)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(obj: Any, *, exclude_none: bool = True) -> str:
    """Spec-shaped JSON text for a model, an `Envelope`, a list of models or plain data.

    Why a hand-written encoder: `json.dumps` can only print a `Decimal` by turning it into a float or
    a string first (its C encoder ignores `__repr__` overrides on float/int subclasses), and pydantic
    writes Decimals as strings. Walking the `model_dump(mode="python")` tree ourselves lets each
    `Decimal` be printed from its own digits: `Decimal("0.1")` -> `0.1`, `Decimal("2.875")` -> `2.875`,
    `Decimal("10")` -> `10`, never `0.1000000000000000055511151231257827` nor `"0.1"`. Datetimes come
    out as `...Z`; fields that are `None` are left out (OCPI's "optional" means absent, not null).
    Output is compact and UTF-8 (not `\\u`-escaped).
    """
    out: list[str] = []
    _encode(obj, out, exclude_none)
    return "".join(out)


def to_json_bytes(obj: Any, *, exclude_none: bool = True) -> bytes:
    """`dumps()` as UTF-8 bytes, ready for an HTTP body."""
    return dumps(obj, exclude_none=exclude_none).encode()


# --------------------------------------------------------------------------------------------------
# Validation errors as one line (OCPI 2001 status_message)
# --------------------------------------------------------------------------------------------------

_MAX_LISTED_ERRORS = 10


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line, partner-readable summary, e.g.
    `Missing required field: evses.0.uid; Too long: id (max 36 characters, got 40)`.
    """
    parts: list[str] = []
    errors = exc.errors(include_url=False)
    for error in errors[:_MAX_LISTED_ERRORS]:
        where = _location(error["loc"])
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind == "missing":
            parts.append(f"Missing required field: {where}")
        elif kind == "string_too_long":
            got = len(error["input"]) if isinstance(error["input"], str) else "?"
            parts.append(f"Too long: {where} (max {ctx.get('max_length')} characters, got {got})")
        elif kind == "too_short" and ctx.get("actual_length") == 0:
            parts.append(f"Empty list not allowed: {where}")
        elif kind in ("model_type", "model_attributes_type", "dict_type") and not error["loc"]:
            parts.append("Invalid body: expected a JSON object")
        else:
            parts.append(f"Invalid value for {where}: {error['msg']}")
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    return "; ".join(parts)
