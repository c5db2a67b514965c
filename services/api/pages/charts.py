"""Charts drawn on the server as SVG: no script, readable by a screen reader through a text
alternative, and always shown beside a table of the same numbers (the template's job).

Pure functions: numbers in, markup out. One line chart serves both a client's trend (items
and the overall mean over sessions, with dips and nudges marked) and a practice's figures by
month."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

# Colours distinguishable in common colour-vision deficiencies (Okabe-Ito), each also drawn
# with its own dash pattern, so no line is told apart by colour alone.
PALETTE = ("#0b5d8c", "#b35900", "#007a5e", "#a3306b", "#5b4ca6", "#6b6b00", "#333333")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "4 4", "1 3", "10 4")
WIDTH, HEIGHT = 720, 300
# RIGHT leaves room for half of the last x label, centred on the last point.
LEFT, RIGHT, TOP, BOTTOM = 48, 32, 16, 64


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x label; None where there is nothing to draw
    emphasis: bool = False  # drawn thicker (the overall mean among items)


@dataclass(frozen=True)
class Mark:
    """A labelled moment on the x axis: a dip, a nudge, an addressed alert."""

    index: int
    label: str
    kind: str = "dip"  # "dip" (a red triangle) or "nudge" (a dark diamond)


@dataclass(frozen=True)
class LineChart:
    title: str
    x_labels: Sequence[str]
    series: Sequence[Series]
    y_min: float
    y_max: float
    y_ticks: Sequence[float]
    marks: Sequence[Mark] = field(default_factory=tuple)
    y_suffix: str = ""


def _x(index: int, count: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span / 2 if count <= 1 else span * index / (count - 1))


def _y(value: float, chart: LineChart) -> float:
    span = HEIGHT - TOP - BOTTOM
    share = (value - chart.y_min) / ((chart.y_max - chart.y_min) or 1)
    return TOP + span * (1 - share)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def describe(chart: LineChart) -> str:
    """The text alternative: what the chart shows, its range, and its marks, in words."""
    if not chart.x_labels:
        return f"{chart.title}: nothing to show yet."
    parts = [
        f"{chart.title}, from {chart.x_labels[0]} to {chart.x_labels[-1]}.",
        "Lines: " + ", ".join(s.name for s in chart.series) + ".",
    ]
    for series in chart.series:
        present = [v for v in series.values if v is not None]
        if present:
            parts.append(
                f"{series.name} ranges from {_number(min(present))}{chart.y_suffix} "
                f"to {_number(max(present))}{chart.y_suffix}, "
                f"latest {_number(present[-1])}{chart.y_suffix}."
            )
    for mark in chart.marks:
        if 0 <= mark.index < len(chart.x_labels):
            parts.append(f"{mark.label} at {chart.x_labels[mark.index]}.")
    parts.append("The same numbers are in the table below the chart.")
    return " ".join(parts)


def render(chart: LineChart, *, chart_id: str) -> Markup:
    """The chart as inline SVG with role="img", a <title> and a <desc> (describe())."""
    count = len(chart.x_labels)
    out: list[str] = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(chart.title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(describe(chart))}</desc>',
    ]
    for tick in chart.y_ticks:
        y = _y(tick, chart)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#d9dee3" stroke-width="1"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#3e4c59">{escape(_number(tick) + chart.y_suffix)}</text>'
        )
    # At most about ten x labels fit; the table carries every one.
    step = max(1, -(-count // 10))
    for index, label in enumerate(chart.x_labels):
        if index % step and index != count - 1:
            continue
        x = _x(index, count)
        # The last label ends at its point, so it is not cut off at the right edge.
        anchor = "end" if index == count - 1 and count > 1 else "middle"
        out.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="{anchor}" font-size="12" '
            f'fill="#3e4c59">{escape(label)}</text>'
        )
    for mark in chart.marks:
        if not 0 <= mark.index < count:
            continue
        x = _x(mark.index, count)
        base = HEIGHT - BOTTOM + 30
        shape = (
            f'<path d="M{x:.1f} {base - 6} l6 10 h-12 z" fill="#b42318"/>'
            if mark.kind == "dip"
            else f'<path d="M{x:.1f} {base - 7} l6 7 l-6 7 l-6 -7 z" fill="#1f2933"/>'
        )
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            'stroke="#9aa5b1" stroke-width="1" stroke-dasharray="3 3"/>'
            f"<g><title>{escape(mark.label)}</title>{shape}</g>"
        )
    for number, series in enumerate(chart.series):
        colour = PALETTE[number % len(PALETTE)]
        dash = DASHES[number % len(DASHES)]
        width = 3.5 if series.emphasis else 2
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(series.values[:count]):
            if value is None:
                runs.append([])
                continue
            runs[-1].append((_x(index, count), _y(value, chart)))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                dashing = f' stroke-dasharray="{dash}"' if dash else ""
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="{width}"{dashing}/>'
                )
            for x, y in run:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{width}" fill="{colour}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def legend(chart: LineChart) -> list[tuple[str, str, str]]:
    """(name, colour, dash) per series, for the template's legend next to the chart."""
    return [
        (s.name, PALETTE[i % len(PALETTE)], DASHES[i % len(DASHES)])
        for i, s in enumerate(chart.series)
    ]
