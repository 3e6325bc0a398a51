"""Mapping helpers every OCPI version's `mapping.py` shares: none of them depends on a version's wire shapes.

A version's mapping turns its wire objects into the records of `roaming.records` and our models back into its
JSON; what it does the same way as the others (the content hash, what stays in `extra`, labels, JSON forms of
parsed numbers) lives here, so two versions cannot drift apart on it.
"""

from __future__ import annotations

import hashlib
import json
import re
from decimal import Decimal
from typing import Any

from .v2_2_1.types import OcpiModel, decimal_to_json_number


def _without_last_updated(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_last_updated(v) for k, v in value.items() if k != "last_updated"}
    if isinstance(value, list):
        return [_without_last_updated(v) for v in value]
    return value


# A `"last_updated":"…"` string member of canonical JSON (sorted keys, no spaces), ended by `,` or `}`. The pattern
# begins with a literal, which `re` finds by a fast scan (an alternation of two contexts, as before, was tried
# at every character: 160 ms for a page of 1,000 locations, against 17 ms). Whether a match is a member is
# decided by the character before it (`_cut_last_updated`).
_LAST_UPDATED = re.compile(r'("last_updated":"[^"\\]*")(?=[,}])')


def _cut_last_updated(canonical: str) -> str:
    """Canonical JSON without its `"last_updated":"…"` members, and one comma beside each.

    A match right after `,` or `{` is a member: inside a JSON string a quote is escaped, so a `"` that follows
    `,` or `{` opens a key. Any other match is left in the text.
    """
    parts = _LAST_UPDATED.split(canonical)
    if len(parts) == 1:
        return canonical
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        member, after = parts[i], parts[i + 1]
        before = out[-1]
        if before.endswith(","):
            out[-1] = before[:-1]
        elif before.endswith("{"):
            after = after.removeprefix(",")
        else:
            out.append(member)
        out.append(after)
    return "".join(out)


def content_hash(document: dict[str, Any]) -> str:
    """Same content, same hash, whatever `last_updated` says (some CPOs bump it without a change).

    The hash of the canonical JSON without any `last_updated` member. The members are cut out of the JSON
    text (C: `json.dumps`, `re`) rather than out of a copy of the document made in Python first: for a
    location with its EVSEs and connectors the recursive copy cost 1.5 s of a 3,000-location pull, and
    twice the encoding itself (profiled). The text is the same either way, so is every stored hash. A
    `last_updated` the pattern does not take (not a plain string) falls back to the copy.
    """
    canonical = _cut_last_updated(json.dumps(document, sort_keys=True, separators=(",", ":"), default=str))
    if '"last_updated":' in canonical:
        canonical = json.dumps(_without_last_updated(document), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


def coordinate(document: dict[str, Any] | None, key: str) -> Decimal | None:
    """A latitude or longitude as a Decimal, exactly as the partner wrote it."""
    return Decimal(str(document[key])) if document and document.get(key) is not None else None


def rest(document: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    """What is not a column: kept in `extra` as sent, so what we serve back is what we received."""
    return {k: v for k, v in document.items() if k not in columns}


def dump(model: OcpiModel) -> dict[str, Any]:
    """The object as the partner sent it (only fields it set), in JSON form."""
    return model.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def put_if(document: dict[str, Any], key: str, value: Any) -> None:
    """Set an optional field only when it has a value (OCPI leaves absent what is unknown)."""
    if value not in (None, "", []):
        document[key] = value


def label(value: Any) -> str:
    """An enum value for its column; an unknown value as sent (the wire model bounds it to the column)."""
    return str(value)


def as_json(value: Any) -> Any:
    """Parsed partner JSON (numbers as `Decimal`, see `types.loads`) as plain JSON types for a JSONField."""
    if isinstance(value, Decimal):
        return decimal_to_json_number(value)
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    return value
