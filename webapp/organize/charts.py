"""Charts for the dashboard, drawn on the server: no chart library, no script, nothing from a CDN.

This module computes what the charts show (bars, lines, their coordinates and the words for screen readers);
templates/organize/charts.html writes the markup, so every word is escaped by Jinja. The shapes are SVG
stretched to the width of the page (`preserveAspectRatio="none"`, strokes that don't scale), and every word and
number is HTML around them, so labels stay readable from a phone to a wide screen. Colours come from classes in
static/css/organize.css (inline styles would break the CSP). Each chart says what it shows in words for screen
readers; the dashboard has the same numbers in tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

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

    @property
    def extras(self) -> list[Segment]:
        """The segments not counted in the total, named after it."""
        return [segment for segment in self.segments if not segment.counted and segment.value]

    def describe(self, total_label: str = "") -> str:
        head = f"{self.total} {total_label}".strip()
        return f"{self.label}: {head} (" + ", ".join(f"{s.value} {s.label}" for s in self.segments) + ")"


@dataclass(frozen=True)
class Rect:
    """A shape on a chart, its coordinates written as the SVG takes them."""

    series: str
    x: str
    width: str
    y: str = "0"
    height: str = "10"
    title: str = ""


@dataclass(frozen=True)
class BarRow:
    bar: Bar
    description: str
    rects: tuple[Rect, ...]


@dataclass(frozen=True)
class BarChart:
    title: str
    rows: tuple[BarRow, ...]
    width: int = WIDTH


@dataclass(frozen=True)
class Line:
    series: str
    points: str  # "x,y x,y …"


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    top: int  # the y axis's top mark; its middle one is top // 2
    height: int
    grid: tuple[str, ...]  # the y of each grid line
    lines: tuple[Line, ...]
    columns: tuple[Rect, ...]  # a series with one day so far: a column instead of a line
    hits: tuple[Rect, ...]  # an invisible column per day, for the tooltip
    marks: tuple[str, ...]  # the days named under the x axis
    width: int = WIDTH


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def bar_chart(bars: list[Bar], *, title: str, total_label: str = "") -> BarChart:
    """One stacked horizontal bar per row, its label and total (its counted segments) above it; the segments
    that are not counted follow, and are named after the total."""
    top = max((bar.length for bar in bars), default=0) or 1
    rows = []
    for bar in bars:
        rects, x = [], 0.0
        for segment in bar.segments:
            if segment.value <= 0:
                continue
            width = max(WIDTH * segment.value / top, 3)
            rects.append(
                Rect(segment.series, _num(x), _num(width), title=f"{bar.label}: {segment.value} {segment.label}")
            )
            x += width
        rows.append(BarRow(bar, bar.describe(total_label), tuple(rects)))
    return BarChart(title, tuple(rows))


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
) -> LineChart:
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

    lines, columns = [], []
    for index, (name, points) in enumerate(series.items()):
        if len(points) == 1:  # one day so far: a line needs two, so a column shows it
            y = y_of(points[0][1])
            half = 24 if index == 0 else 10
            columns.append(Rect(name, str(WIDTH / 2 - half), str(2 * half), y=_num(y), height=_num(height - y)))
        elif points:
            path = " ".join(f"{_num(x_of(i))},{_num(y_of(value))}" for i, (_, value) in enumerate(points))
            lines.append(Line(name, path))
    step = WIDTH / max(len(days), 1)
    hits = []
    for index, day in enumerate(days):
        values = ", ".join(f"{points[index][1]} {names.get(name, name)}" for name, points in series.items())
        left = x_of(index) - step / 2 if len(days) > 1 else 0
        width = step if len(days) > 1 else WIDTH
        hits.append(Rect("", _num(max(left, 0)), _num(width), height=str(height), title=f"{_day(day)}: {values}"))
    marks = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    return LineChart(
        title=title,
        description=description,
        top=top,
        height=height,
        grid=tuple(_num(y) for y in (0, height / 2, height)),
        lines=tuple(lines),
        columns=tuple(columns),
        hits=tuple(hits),
        marks=tuple(_day(days[index]) for index in marks),
    )
