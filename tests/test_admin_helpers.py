"""The admin building blocks every app's pages use: folded JSON, one-line cells, links to filtered lists."""

from __future__ import annotations

from datetime import UTC, datetime

from emsp.lib.admin import changelist_link, json_block, one_line, when
from roaming.models import ChargingSession


def test_json_is_pretty_printed_folded_and_escaped() -> None:
    block = json_block({"id": "<S1>", "periods": [1, 2]})
    assert block.startswith('<details class="json"><summary>2 fields</summary><pre')
    assert '"id": "&lt;S1&gt;",\n  "periods": [\n    1,' in block.replace("&quot;", '"')
    assert "<summary>3 items</summary>" in json_block([1, 2, 3])
    assert "<summary>charging</summary>" in json_block([{}], "charging")
    assert json_block({"a": 1}, open=True).startswith('<details class="json" open>')


def test_a_log_body_is_parsed_and_one_cut_off_is_shown_as_it_is() -> None:
    assert "&quot;status_code&quot;: 1000" in json_block('{"status_code": 1000}')
    cut = json_block('{"data": [{"id": "1"}, … [120 more characters]')
    assert "(not JSON)</summary>" in cut
    assert "… [120 more characters]" in cut
    empties: tuple[object, ...] = (None, "", "  ", [], {})
    for empty in empties:
        assert json_block(empty) == "-"


def test_a_cell_stays_on_one_line_with_the_whole_text_on_hover() -> None:
    assert one_line("short") == '<span style="white-space:nowrap" title="short">short</span>'
    long = one_line("0123456789abcdefghij-more", 12)
    assert long == '<span style="white-space:nowrap" title="0123456789abcdefghij-more">0123456789a…</span>'
    assert 'title="NL/CPO/S1"' in one_line("S1", title="NL/CPO/S1")
    assert when(datetime(2026, 11, 10, 9, 5, 7, tzinfo=UTC)) == (
        '<span style="white-space:nowrap" title="2026-11-10 09:05:07 UTC">2026-11-10 09:05</span>'
    )
    assert when(None) == "-"


def test_a_link_to_a_filtered_list() -> None:
    link = changelist_link(ChargingSession, "sessions", driver__id__exact=7)
    assert link == '<a href="/admin/roaming/chargingsession/?driver__id__exact=7">sessions</a>'
