"""Bar charts as inline SVG, drawn on the server: the start page needs nothing from the internet and no
JavaScript. Each bar links to the list its figure comes from and names its value on hover; the y axis has
round ticks, the x axis a date every few days, and the largest and the last value are written on the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 22, 34  # margins: y tick labels left, date labels below


@dataclass(frozen=True)
class Bar:
    label: str  # on the x axis, e.g. "1 Dec"
    value: Decimal | int
    text: str  # the value as people read it, e.g. "1,234 kWh" (hover, and written on the chart)
    url: str = ""  # the list the figure comes from


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least `top`: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    steps = math.ceil(top / step - 1e-9)
    return [step * n for n in range(steps + 1)]


def _tick_label(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:g}"


def bar_chart(bars: Sequence[Bar], *, title: str, label_every: int = 5) -> SafeString:
    """An SVG bar chart of `bars` (one per day, oldest first), titled for screen readers too."""
    ticks = nice_ticks(float(max((bar.value for bar in bars), default=0)))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)
    gap = max(1.0, slot * 0.2)

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [
        format_html(
            '<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="{}" height="{}" '
            'role="img" aria-label="{}"><title>{}</title>',
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            title,
            title,
        )
    ]
    for tick in ticks:
        parts.append(
            format_html(
                '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
                '<text class="tick" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{}</text>',
                LEFT,
                WIDTH - RIGHT,
                f"{y(tick):.1f}",
                f"{y(tick):.1f}",
                LEFT - 6,
                f"{y(tick):.1f}",
                _tick_label(tick),
            )
        )
    biggest = max(range(len(bars)), key=lambda i: bars[i].value, default=None)
    for i, bar in enumerate(bars):
        x = LEFT + i * slot + gap / 2
        value = float(bar.value)
        height = plot_h * value / top
        rect = format_html(
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
            f"{x:.1f}",
            f"{y(value):.1f}",
            f"{slot - gap:.1f}",
            f"{height:.1f}",
            bar.label,
            bar.text,
        )
        parts.append(format_html('<a href="{}">{}</a>', bar.url, rect) if bar.url else rect)
        centre = f"{x + (slot - gap) / 2:.1f}"
        if i % label_every == (len(bars) - 1) % label_every:  # the last day always labelled
            parts.append(
                format_html(
                    '<text class="day" x="{}" y="{}" text-anchor="middle">{}</text>', centre, HEIGHT - 14, bar.label
                )
            )
        if value and i in (biggest, len(bars) - 1):
            # Written above the bar, kept inside the chart at either end.
            anchor, at = "middle", centre
            if i == len(bars) - 1 and len(bars) > 1:
                anchor, at = "end", f"{x + slot - gap:.1f}"
            elif i == 0 and len(bars) > 1:
                anchor, at = "start", f"{x:.1f}"
            parts.append(
                format_html(
                    '<text class="value" x="{}" y="{}" text-anchor="{}">{}</text>',
                    at,
                    f"{y(value) - 4:.1f}",
                    anchor,
                    bar.text,
                )
            )
    parts.append(
        format_html(
            '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>', LEFT, WIDTH - RIGHT, TOP + plot_h, TOP + plot_h
        )
    )
    parts.append(mark_safe("</svg>"))  # nosec B308 B703 - a constant
    return mark_safe("".join(str(part) for part in parts))  # noqa: S308 # nosec B308 B703 - every part built by format_html
