"""Shared pieces of the property-based fuzz tests: how many examples a run tries, and bodies generated from the
JSON schema of a pydantic model (valid-ish ones that follow it, broken ones that do not).

`make test` runs a few examples per endpoint (FUZZ_PROFILE unset or "fast"); `make test-slow` (which CI runs)
sets FUZZ_PROFILE=slow for twelve times as many; FUZZ_PROFILE=deep tries 150 an endpoint (about 30 minutes
here), by hand before a release. All are derandomized: a failure is found again by the next run.
"""

from __future__ import annotations

import os
import string
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from pydantic import BaseModel

#: Examples per endpoint (and per mode, for the driver API) for each profile.
EXAMPLES = {"fast": 5, "slow": 60, "deep": 150}
FUZZ_PROFILE = os.environ.get("FUZZ_PROFILE", "fast")


def fuzz_settings(scale: float = 1.0) -> settings:
    """Hypothesis settings of the current profile; `scale` for tests that make several requests an example."""
    return settings(
        max_examples=max(1, int(EXAMPLES[FUZZ_PROFILE] * scale)),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate),  # no shrinking: a failure is reported as found
    )


Json = Any

#: Any JSON value, a few levels deep.
any_json: st.SearchStrategy[Json] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

_PRINTABLE = st.text(alphabet=string.ascii_letters + string.digits + "-_ .", max_size=40)
_DATETIMES = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
)


class _Schema:
    """A strategy for the documents a JSON schema (pydantic's `model_json_schema()`) describes."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.defs: dict[str, Any] = schema.get("$defs", {})
        self.root = schema

    def strategy(self, node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Json]:
        if "$ref" in node:
            return st.deferred(lambda: self.strategy(self.defs[node["$ref"].rsplit("/", 1)[-1]], depth + 1))
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if "const" in node:
            return st.just(node["const"])
        if "anyOf" in node or "oneOf" in node:
            return st.one_of([self.strategy(branch, depth) for branch in node.get("anyOf") or node["oneOf"]])
        kind = node.get("type")
        if kind == "object" or "properties" in node:
            return self._object(node, depth)
        if kind == "array":
            low = node.get("minItems", 0)
            high = min(node.get("maxItems", 3), low + 3 if depth < 4 else low)
            return st.lists(self.strategy(node.get("items", {}), depth + 1), min_size=low, max_size=max(low, high))
        if kind == "string":
            return self._string(node)
        if kind == "integer":
            return st.integers(min_value=node.get("minimum", -(2**40)), max_value=node.get("maximum", 2**40))
        if kind == "number":
            low, high = node.get("minimum", -1e9), node.get("maximum", 1e9)
            decimals = st.decimals(min_value=Decimal(repr(low)), max_value=Decimal(repr(high)), places=4)
            return st.integers(min_value=int(low), max_value=int(high)) | decimals.map(float)
        if kind == "boolean":
            return st.booleans()
        if kind == "null":
            return st.none()
        return any_json

    def _string(self, node: dict[str, Any]) -> st.SearchStrategy[Json]:
        if node.get("format") == "date-time":
            return _DATETIMES
        if node.get("format") in ("uri", "url"):
            return _PRINTABLE.map(lambda s: "https://cpo.example.com/" + s.replace(" ", ""))
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: len(s) <= node.get("maxLength", 99))
        low, high = node.get("minLength", 0), node.get("maxLength", 40)
        return st.text(alphabet=string.ascii_uppercase + string.digits, min_size=low, max_size=min(high, 40))

    def _object(self, node: dict[str, Any], depth: int) -> st.SearchStrategy[Json]:
        properties: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", ()))
        fixed = {name: self.strategy(properties[name], depth + 1) for name in properties if name in required}
        optional = {name: self.strategy(properties[name], depth + 1) for name in properties if name not in required}
        if depth > 5:  # deep optional parts add nothing but size
            optional = {}
        return st.fixed_dictionaries(fixed, optional=optional)


def valid_ish(model: type[BaseModel]) -> st.SearchStrategy[Json]:
    """Documents that follow `model`'s schema: types, lengths, enums and required fields as it says (the view
    may still refuse them, e.g. an id that does not match the URL or a date out of order)."""
    schema = model.model_json_schema()
    return _Schema(schema).strategy(schema)


@st.composite
def broken(draw: st.DrawFn, model: type[BaseModel]) -> Json:
    """A valid-ish document with one thing wrong: a required field dropped, or some value replaced by any JSON."""
    document = draw(valid_ish(model))
    if not isinstance(document, dict) or not document:
        return draw(any_json)
    paths = list(_paths(document))
    path = draw(st.sampled_from(paths))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(any_json)
    return document


def _paths(value: Json, prefix: tuple[Any, ...] = ()) -> Any:
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


def bodies(model: type[BaseModel]) -> st.SearchStrategy[Json]:
    """What a fuzzed endpoint is sent: mostly documents shaped like `model`, some broken, some any JSON."""
    return st.one_of(valid_ish(model), broken(model), any_json)


def recent() -> str:
    """A last_updated that wins over what the fixtures stored."""
    return (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
