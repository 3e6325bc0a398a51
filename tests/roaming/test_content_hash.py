"""`content_hash` cuts `last_updated` members out of the JSON text (fast path); it must give the hash of the
document without them, computed the slow way, for any JSON the partner may send (stored hashes depend on it)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roaming.ocpi.mapping import _without_last_updated, content_hash

_KEYS = st.sampled_from(["last_updated", "id", "evses", "a", "z", 'q"uote', "last_updated_x", "x\\"])
_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5))


def _slow(document: Any) -> str:
    canonical = json.dumps(_without_last_updated(document), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(canonical.encode(), usedforsecurity=False).hexdigest()


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _JSON, max_size=6))
def test_the_fast_hash_is_the_hash_without_last_updated(document: dict[str, Any]) -> None:
    assert content_hash(document) == _slow(document)


def test_last_updated_alone_does_not_change_the_hash() -> None:
    first = {"id": "LOC1", "last_updated": "2026-01-01T00:00:00Z", "evses": [{"uid": "E1", "last_updated": "x"}]}
    second = {"id": "LOC1", "last_updated": "2026-02-01T00:00:00Z", "evses": [{"uid": "E1", "last_updated": "y"}]}
    assert content_hash(first) == content_hash(second)
    assert content_hash(first) != content_hash({**first, "id": "LOC2"})


@pytest.mark.parametrize(
    "document",
    [
        {"a": ',"last_updated":"x"', "last_updated": "y"},  # the member's text inside a string
        {"a": '{"last_updated":"x"}', "b": "{", "c": ","},
        {'"last_updated': "x", "last_updated": "y"},  # a key that ends like one
        {',"last_updated': {"last_updated": "x"}, "z": [{"last_updated": "y"}, {"last_updated": "z", "k": 1}]},
        {"x\\": "last_updated", "last_updated": 'a"b'},  # not a plain string: the slow way
        {"last_updated": "a\\", "b": ["last_updated"]},
    ],
)
def test_member_text_inside_strings_and_keys_is_kept(document: dict[str, Any]) -> None:
    assert content_hash(document) == _slow(document)
