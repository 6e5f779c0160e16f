"""Charts for the dashboard, rendered on the server: no chart library, no script, nothing from a CDN.

The shapes are SVG stretched to the width of the page (`preserveAspectRatio="none"`, strokes that don't
scale), and every word and number is HTML around them, so labels stay readable from a phone to a wide
screen. Colours come from classes in static/css/organize.css (inline styles would break the CSP). Each
chart says what it shows in words for screen readers; the dashboard has the same numbers in tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 1000  # SVG user units across; stretched to the element's width


@dataclass(frozen=True)
class Segment:
    series: str  # a CSS class suffix: sent, confirmed, shown_only, handed_off
    value: int
    label: str
    counted: bool = True  # part of the number shown at the bar's end (False: drawn after it, lighter)


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[Segment, ...]

    @property
    def total(self) -> int:
        """The number shown at the bar's end: its counted segments."""
        return sum(segment.value for segment in self.segments if segment.counted)

    @property
    def length(self) -> int:
        return sum(segment.value for segment in self.segments)

    def describe(self, total_label: str = "") -> str:
        head = f"{self.total} {total_label}".strip()
        return f"{self.label}: {head} (" + ", ".join(f"{s.value} {s.label}" for s in self.segments) + ")"


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _markup(parts: list[str]) -> Markup:
    return Markup("".join(parts))  # noqa: S704 - every text put into it went through escape()


def bar_chart(bars: list[Bar], *, title: str, total_label: str = "") -> Markup:
    """One stacked horizontal bar per row, its label and total (its counted segments) above it; the segments
    that are not counted follow, and are named after the total."""
    top = max((bar.length for bar in bars), default=0) or 1
    parts = [f'<figure class="chart bar-chart"><figcaption class="visually-hidden">{escape(title)}</figcaption>']
    for bar in bars:
        extra = "".join(
            f' <span class="bar-extra">+{segment.value} {escape(segment.label)}</span>'
            for segment in bar.segments
            if not segment.counted and segment.value
        )
        parts.append(
            f'<div class="bar-row"><div class="bar-head"><span class="bar-label">{escape(bar.label)}</span>'
            f'<span><span class="bar-total">{bar.total}</span>{extra}</span></div>'
            f'<svg class="bar" viewBox="0 0 {WIDTH} 10" preserveAspectRatio="none" role="img" '
            f'aria-label="{escape(bar.describe(total_label))}" xmlns="http://www.w3.org/2000/svg">'
            f'<rect class="chart-track" width="{WIDTH}" height="10"/>'
        )
        x = 0.0
        for segment in bar.segments:
            if segment.value <= 0:
                continue
            width = max(WIDTH * segment.value / top, 3)
            parts.append(
                f'<rect class="series-{escape(segment.series)}" x="{_num(x)}" width="{_num(width)}" height="10">'
                f"<title>{escape(bar.label)}: {segment.value} {escape(segment.label)}</title></rect>"
            )
            x += width
        parts.append("</svg></div>")
    parts.append("</figure>")
    return _markup(parts)


def axis_top(value: int) -> int:
    """A round, even top for the y axis, so that its middle mark is a whole number too."""
    if value <= 10:
        return max(2, value + value % 2)
    magnitude = 10
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (2, 4, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _day(day: dt.date) -> str:
    return f"{day:%b} {day.day}"


def line_chart(
    series: dict[str, list[tuple[dt.date, int]]],
    *,
    title: str,
    height: int = 200,
    names: dict[str, str] | None = None,
) -> Markup:
    """Lines over days: every series has a point for the same days, oldest first. A series' key is a CSS class
    suffix; `names` gives the words readers get for it (the key itself by default)."""
    names = names or {}
    first = next(iter(series.values()), [])
    days = [day for day, _ in first]
    top = axis_top(max((value for points in series.values() for _, value in points), default=0))
    description = "; ".join(
        f"{names.get(name, name)}: " + ", ".join(f"{_day(day)} {value}" for day, value in points)
        for name, points in series.items()
    )

    def x_of(index: int) -> float:
        return WIDTH / 2 if len(days) == 1 else WIDTH * index / (len(days) - 1)

    def y_of(value: int) -> float:
        return height - height * value / top

    def index_of(name: str) -> int:
        return list(series).index(name)

    parts = [
        f'<figure class="chart line-chart"><figcaption class="visually-hidden">{escape(title)}</figcaption>'
        f'<div class="line-wrap"><div class="y-axis" aria-hidden="true"><span>{top}</span><span>{top // 2}</span>'
        f'<span>0</span></div><div class="plot">'
        f'<svg viewBox="0 0 {WIDTH} {height}" preserveAspectRatio="none" role="img" aria-label="{escape(description)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for y in (0, height / 2, height):
        parts.append(
            f'<line class="chart-grid" x1="0" x2="{WIDTH}" y1="{_num(y)}" y2="{_num(y)}" vector-effect="non-scaling-stroke"/>'
        )
    for name, points in series.items():
        if len(points) == 1:  # one day so far: a line needs two, so a column shows it
            y = y_of(points[0][1])
            half = 24 if index_of(name) == 0 else 10
            parts.append(
                f'<rect class="column-{escape(name)}" x="{WIDTH / 2 - half}" y="{_num(y)}" width="{2 * half}" '
                f'height="{_num(height - y)}"/>'
            )
        elif points:
            path = " ".join(f"{_num(x_of(i))},{_num(y_of(value))}" for i, (_, value) in enumerate(points))
            parts.append(
                f'<polyline class="line-{escape(name)}" fill="none" points="{path}" vector-effect="non-scaling-stroke"/>'
            )
    step = WIDTH / max(len(days), 1)
    for index, day in enumerate(days):  # an invisible column per day, for the tooltip
        values = ", ".join(f"{points[index][1]} {names.get(name, name)}" for name, points in series.items())
        left = x_of(index) - step / 2 if len(days) > 1 else 0
        parts.append(
            f'<rect class="chart-hit" x="{_num(max(left, 0))}" y="0" width="{_num(step if len(days) > 1 else WIDTH)}" '
            f'height="{height}"><title>{escape(_day(day))}: {escape(values)}</title></rect>'
        )
    parts.append('</svg><div class="x-axis" aria-hidden="true">')
    marks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    for index in marks:
        parts.append(f"<span>{escape(_day(days[index]))}</span>")
    parts.append("</div></div></div></figure>")
    return _markup(parts)
