"""Charts as SVG text, drawn on the server: no script, no font and no library reach the browser,
so a page works offline, is small (ten years of daily equity is a few tens of KB) and draws at
once, on a phone too. Pure: values in, markup out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

Point = tuple[date, float]
WIDTH, HEIGHT = 800, 260
LEFT, RIGHT, TOP, BOTTOM = 84, 12, 12, 28  # room for the axis labels


@dataclass(frozen=True, slots=True)
class Line:
    """One series of a chart, with the CSS class that colours it (``a``, ``b``, ``dd`` …)."""

    name: str
    points: Sequence[Point]
    css: str


def money(value: float) -> str:
    """$107,628: whole dollars, as the tracker lines print them."""
    return f"${value:,.0f}"


def axis_money(value: float) -> str:
    """$105k: short enough for an axis on a phone; whole dollars below $10,000."""
    if abs(value) >= 10_000:
        return f"${value / 1000:,.0f}k".replace("$-", "−$")
    return money(value)


def percent(value: float) -> str:
    """−13.6%."""
    return f"{value:.1%}"


def line_chart(
    lines: Sequence[Line],
    *,
    label: str,
    fmt: Callable[[float], str] = axis_money,
    height: int = HEIGHT,
    floor: float | None = None,
) -> str:
    """A line chart of dated series on a shared scale, with its legend; an empty ``lines``
    (or no points) draws a note instead. ``floor`` pins the scale's low end (0 for drawdowns
    is the top, so they use ``ceiling`` of 0 via ``fmt``)."""
    drawn = [line for line in lines if line.points]
    if not drawn:
        return f'<p class="empty">{escape(label)}: nothing recorded yet</p>'
    days = sorted({day for line in drawn for day, _ in line.points})
    values = [v for line in drawn for _, v in line.points]
    low, high = min(values), max(values)
    if floor is not None:
        low = min(low, floor)
    if math.isclose(low, high):
        low, high = low - 1, high + 1
    first, last = days[0].toordinal(), days[-1].toordinal()
    span = max(last - first, 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, height - TOP - BOTTOM

    def x(day: date) -> float:
        return LEFT + (day.toordinal() - first) / span * plot_w

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="none">'
    ]
    for tick in _ticks(low, high):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="yl" x="{LEFT - 4}" y="{ty + 4:.1f}">{escape(fmt(tick))}</text>'
        )
    for day in _date_ticks(days[0], days[-1]):
        if x(day) > WIDTH - RIGHT - 30:  # a label at the right edge would be cut in half
            continue
        parts.append(
            f'<text class="xl" x="{x(day):.1f}" y="{height - 8}">{_date_label(day, span)}</text>'
        )
    for line in drawn:
        coords = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in line.points)
        parts.append(f'<polyline class="{line.css}" points="{coords}"/>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key {line.css}">{escape(line.name)}</span>' for line in drawn)
    return f"<figure>{''.join(parts)}<figcaption>{legend}</figcaption></figure>"


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values across ``low``…``high`` (1, 2 or 5 × a power of ten apart)."""
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = math.ceil(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _date_ticks(first: date, last: date) -> list[date]:
    """Mondays for a span of weeks, month starts for months, years for long spans: at most
    about eight labels."""
    if (last - first).days < 62:
        monday = first + timedelta(days=-first.weekday() % 7)
        every = 7 if (last - first).days < 50 else 14
        return [monday + timedelta(days=d) for d in range(0, (last - monday).days + 1, every)]
    begin, end = first.year * 12 + first.month - 1, last.year * 12 + last.month - 1
    every = next(m for m in (1, 2, 3, 6, 12, 24, 60, 120) if (end - begin) / m <= 8)
    ticks = [date(i // 12, i % 12 + 1, 1) for i in range(begin, end + 1) if i % every == 0]
    return [day for day in ticks if day >= first]


def _date_label(day: date, span: int) -> str:
    if span < 62:
        return f"{day:%b} {day.day}"
    return f"{day:%Y}" if span > 3 * 365 else f"{day:%b %Y}" if day.month == 1 else f"{day:%b}"


def corridor_chart(
    rows: Sequence[tuple[str, float | None, float | None, float | None, float | None, bool]],
) -> str:
    """One bar per fund: the target as a tick, the corridor as a band around it, the current
    weight as a dot (red outside the band). Rows are (symbol, target, current, lower, upper,
    outside), weights as fractions."""
    shown = [r for r in rows if r[1] is not None or r[2] is not None]
    if not shown:
        return '<p class="empty">no targets recorded yet</p>'
    values = [v for r in shown for v in r[1:5] if v is not None]
    top = max([*values, 0.0]) * 1.1 or 1.0
    bottom = min([*values, 0.0])
    row_h, label_w, width = 26, 70, WIDTH
    plot_w = width - label_w - 70
    height = row_h * len(shown) + 24

    def x(value: float) -> float:
        return label_w + (value - bottom) / (top - bottom) * plot_w

    parts = [
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="positions against targets">'
    ]
    for i, (symbol, target, current, lower, upper, outside) in enumerate(shown):
        mid = 12 + i * row_h + row_h / 2
        parts.append(f'<text class="sym" x="4" y="{mid + 4:.1f}">{escape(symbol)}</text>')
        if lower is not None and upper is not None:
            parts.append(
                f'<rect class="band" x="{x(max(lower, bottom)):.1f}" y="{mid - 8:.1f}" '
                f'width="{max(x(upper) - x(max(lower, bottom)), 1):.1f}" height="16"/>'
            )
        if target is not None:
            parts.append(
                f'<line class="target" x1="{x(target):.1f}" x2="{x(target):.1f}" '
                f'y1="{mid - 10:.1f}" y2="{mid + 10:.1f}"/>'
            )
        if current is not None:
            css = "now out" if outside else "now"
            parts.append(f'<circle class="{css}" cx="{x(current):.1f}" cy="{mid:.1f}" r="5"/>')
            parts.append(
                f'<text class="val" x="{width - 4}" y="{mid + 4:.1f}">{current:.1%}</text>'
            )
    parts.append("</svg>")
    legend = (
        '<span class="key target">target</span><span class="key band">corridor</span>'
        '<span class="key now">now</span>'
    )
    return f"<figure>{''.join(parts)}<figcaption>{legend}</figcaption></figure>"
