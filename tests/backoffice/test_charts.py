"""The server-side SVG bar chart: one bar per value, round ticks, labels, links, nothing from the internet."""

from __future__ import annotations

import re
from decimal import Decimal
from xml.etree import ElementTree

from backoffice.charts import Bar, bar_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def test_a_bar_per_value_each_as_high_as_its_value() -> None:
    bars = [Bar(f"{n} Dec", n * 10, f"{n * 10} sessions", f"/admin/x/?day={n}") for n in range(1, 31)]

    svg = ElementTree.fromstring(str(bar_chart(bars, title="Sessions per day")))

    rects = svg.findall(f".//{SVG}rect")
    assert len(rects) == 30
    heights = [float(r.get("height") or 0) for r in rects]
    assert heights == sorted(heights)
    assert heights[0] > 0
    assert all(abs(h - heights[29] * (n + 1) / 30) <= 0.1 for n, h in enumerate(heights))  # proportional
    assert [a.get("href") for a in svg.findall(f"{SVG}a")] == [f"/admin/x/?day={n}" for n in range(1, 31)]
    assert rects[4].find(f"{SVG}title").text == "5 Dec: 50 sessions"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}title").text == "Sessions per day"  # type: ignore[union-attr]


def test_axis_labels_and_the_largest_and_last_values_are_written() -> None:
    bars = [Bar(f"{n} Nov", Decimal(v), f"{v} kWh") for n, v in enumerate(["10", "250.5", "40", "75"], start=1)]

    svg = ElementTree.fromstring(str(bar_chart(bars, title="Energy", label_every=2)))

    texts: dict[str | None, list[str | None]] = {}
    for t in svg.findall(f"{SVG}text"):
        texts.setdefault(t.get("class"), []).append(t.text)
    assert texts["tick"] == ["0", "100", "200", "300"]
    assert texts["day"] == ["2 Nov", "4 Nov"]  # every second day, the last one always
    assert texts["value"] == ["250.5 kWh", "75 kWh"]  # the largest and the last


def test_no_data_draws_an_empty_chart_and_text_is_escaped() -> None:
    svg = str(bar_chart([Bar("1 Dec", 0, "0 <none>")], title="Revenue & costs"))

    assert "Revenue &amp; costs" in svg
    assert "0 &lt;none&gt;" in svg
    assert len(re.findall(r'<rect class="bar"', svg)) == 1
    ElementTree.fromstring(svg)  # well-formed


def test_nice_ticks() -> None:
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(1634) == [0, 500, 1000, 1500, 2000]
    assert nice_ticks(100) == [0, 50, 100]
