"""The figures page's charts by month, built from shared.reporting's numbers: one line per
clinician and a thicker one for the whole practice. Each chart comes with the rows of the
table that repeats its numbers."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup

from services.api.pages.charts import LineChart, Series, legend, render
from shared.reporting.figures import Figures
from shared.reporting.service import PracticeFigures

WHOLE_PRACTICE = "Whole practice"


def percent(rate: float | None) -> str:
    return "no data" if rate is None else f"{round(rate * 100)}%"


def _number(value: float | None) -> str:
    if value is None:
        return "no data"
    return f"{value:.1f}".removesuffix(".0")


@dataclass(frozen=True)
class FigureChart:
    chart_id: str
    title: str
    svg: Markup
    legend: list[tuple[str, str, str]]
    columns: list[str]  # the table's column headings after "Month"
    rows: list[tuple[str, list[str]]]  # (month, one cell per column)


def _ticks(top: float) -> tuple[float, list[float]]:
    """A round top for the y axis and four steps up to it."""
    if top <= 0:
        return 4.0, [0.0, 1.0, 2.0, 3.0, 4.0]
    step = 10 ** math.floor(math.log10(top / 4))
    for factor in (1, 2, 2.5, 5, 10):
        if top / (step * factor) <= 4:
            step *= factor
            break
    return step * 4, [step * n for n in range(5)]


def _per_person_chart(
    found: PracticeFigures,
    *,
    chart_id: str,
    title: str,
    value: Callable[[Figures], float | None],
    shown: Callable[[float | None], str],
    scale: float = 1.0,
    suffix: str = "",
    fixed_top: float | None = None,
) -> FigureChart:
    labels = [month.month.label for month in found.by_month]

    def values(pick: Callable[[int], Figures]) -> list[float | None]:
        raw = [value(pick(index)) for index in range(len(found.by_month))]
        return [None if v is None else round(v * scale, 1) for v in raw]

    def of_clinician(number: int) -> Callable[[int], Figures]:
        return lambda i: found.by_month[i].by_clinician[number].figures

    series = [
        Series(WHOLE_PRACTICE, values(lambda i: found.by_month[i].overall), emphasis=True),
        *(
            Series(person.name, values(of_clinician(number)))
            for number, person in enumerate(found.by_clinician)
        ),
    ]
    present = [v for s in series for v in s.values if v is not None]
    top, ticks = (
        (fixed_top, [fixed_top * n / 4 for n in range(5)])
        if fixed_top
        else _ticks(max(present, default=0))
    )
    chart = LineChart(
        title=title,
        x_labels=labels,
        series=series,
        y_min=0,
        y_max=top,
        y_ticks=ticks,
        y_suffix=suffix,
    )
    return FigureChart(
        chart_id=chart_id,
        title=title,
        svg=render(chart, chart_id=chart_id),
        legend=legend(chart),
        columns=[s.name for s in series],
        rows=[
            (
                month.month.label,
                [shown(value(month.overall))]
                + [shown(value(row.figures)) for row in month.by_clinician],
            )
            for month in found.by_month
        ],
    )


def _nudge_chart(found: PracticeFigures) -> FigureChart:
    labels = [month.month.label for month in found.by_month]
    sent = [float(m.overall.tally.nudges_sent) for m in found.by_month]
    acknowledged = [float(m.overall.tally.acknowledged) for m in found.by_month]
    top, ticks = _ticks(max([*sent, *acknowledged], default=0))
    title = "Nudges delivered and alerts acknowledged, whole practice"
    chart = LineChart(
        title=title,
        x_labels=labels,
        series=[
            Series("Nudges delivered", sent, emphasis=True),
            Series("Acknowledged", acknowledged),
        ],
        y_min=0,
        y_max=top,
        y_ticks=ticks,
    )
    return FigureChart(
        chart_id="nudges",
        title=title,
        svg=render(chart, chart_id="nudges"),
        legend=legend(chart),
        columns=["Nudges delivered", "Acknowledged"],
        rows=[
            (m.month.label, [str(m.overall.tally.nudges_sent), str(m.overall.tally.acknowledged)])
            for m in found.by_month
        ],
    )


def figure_charts(found: PracticeFigures) -> list[FigureChart]:
    return [
        _per_person_chart(
            found,
            chart_id="response-rate",
            title="Response rate by month",
            value=lambda f: f.response_rate,
            shown=percent,
            scale=100,
            suffix="%",
            fixed_top=100,
        ),
        _per_person_chart(
            found,
            chart_id="dips",
            title="Dips per 100 appointments by month",
            value=lambda f: f.dips_per_100_appointments,
            shown=_number,
        ),
        _nudge_chart(found),
        _per_person_chart(
            found,
            chart_id="repair-rate",
            title="Repair rate by month",
            value=lambda f: f.repair_rate,
            shown=percent,
            scale=100,
            suffix="%",
            fixed_top=100,
        ),
    ]
