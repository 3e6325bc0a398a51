"""A pulled page's records are freed by reference counting as soon as the page is written.

A walk keeps the garbage collector almost off (`roaming.sync._walking`): scanning pages that are still being
parsed and written cost a tenth of a big pull. That is safe only while writing a page makes no reference cycle
through it: one cycle through a frame holding the page (an exception caught inside Django did that) keeps the
whole page alive until a collection comes. These tests write pages of every module as a pull does and count
what only the collector could free.
"""

from __future__ import annotations

import copy
import gc
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from roaming import records
from roaming.models import SyncRun
from roaming.ocpi.versions import wire_for
from roaming.sync import MODULES, _parse_page
from tests.billing.conftest import TARIFF, cdr_body, location_body
from tests.examples import example
from tests.roaming.conftest import registered_partner

pytestmark = pytest.mark.django_db(transaction=True)


def _session(n: int) -> dict[str, Any]:
    body = copy.deepcopy(example("sessions/session_example_1_simple_start.json"))
    body.update(country_code="BE", party_id="BEC", id=f"S{n}", location_id=f"LOC{n}")
    return body


PAGES: dict[str, Callable[[int], dict[str, Any]]] = {
    SyncRun.Module.LOCATIONS: lambda n: location_body(f"LOC{n}"),
    SyncRun.Module.TARIFFS: lambda n: {**TARIFF, "id": f"T{n}"},
    SyncRun.Module.SESSIONS: _session,
    SyncRun.Module.CDRS: lambda n: cdr_body(f"CDR-{n}", location_id=f"LOC{n}"),
}


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("module", list(PAGES))
def test_writing_a_page_leaves_nothing_for_the_garbage_collector(module: str, collector_off: None) -> None:
    partner, _ = registered_partner("Some CPO", [("BE", "BEC"), ("DE", "ALL"), ("NL", "EMS")])
    spec = MODULES[module].for_wire(wire_for(partner), ("BE", "BEC"))
    parties = {(role.country_code, role.party_id) for role in partner.roles.all()}

    def write_page(first: int) -> None:
        items, invalid = _parse_page(spec, [PAGES[module](n) for n in range(first, first + 20)], parties)
        assert len(items) == 20
        assert not invalid
        spec.upsert(partner=partner, items=items)

    write_page(0)  # the first page fills caches and imports what a pull needs once
    gc.collect()
    write_page(100)  # a new page: every object inserted
    write_page(0)  # the same page again: every object compared and left alone or rewritten
    left = _left_to_the_collector()
    assert not [obj for obj in left if isinstance(obj, FrameType)]  # a frame holds its locals: a page
    assert not [obj for obj in left if type(obj).__module__ == records.__name__]


def _left_to_the_collector() -> list[Any]:
    """What only the collector could free: found by a collection that keeps it (DEBUG_SAVEALL).

    Not "nothing at all": the pricing that a stored CDR starts runs in this process in the tests (eagerly,
    where a worker would run it) and leaves a Cdr and its CdrPrice pointing at each other, per CDR priced."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
