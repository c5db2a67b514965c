"""The server-drawn SVG charts: valid markup, a text alternative in words, every mark shown."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from services.api.pages.charts import LineChart, Mark, Series, describe, render

SVG = "{http://www.w3.org/2000/svg}"


def _trend() -> LineChart:
    return LineChart(
        title="RC-1002's answers over their last 4 sessions",
        x_labels=["2 Mar", "9 Mar", "16 Mar", "23 Mar"],
        series=[
            Series("Pace", [5, 4, None, 2]),
            Series("Overall", [4.8, 4.4, 4.6, 3.2], emphasis=True),
        ],
        y_min=1,
        y_max=5,
        y_ticks=[1, 2, 3, 4, 5],
        marks=[Mark(3, "Dip found", "dip"), Mark(3, "Nudge sent", "nudge")],
    )


def test_the_chart_is_well_formed_svg_with_a_title_and_description() -> None:
    root = ET.fromstring(str(render(_trend(), chart_id="trend")))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trend-title trend-desc"
    assert root.find(f"{SVG}title").text == "RC-1002's answers over their last 4 sessions"
    assert "Dip found at 23 Mar" in root.find(f"{SVG}desc").text


def test_a_missing_answer_breaks_the_line_instead_of_drawing_through_it() -> None:
    root = ET.fromstring(str(render(_trend(), chart_id="trend")))
    lines = root.findall(f"{SVG}polyline")
    # Pace: one run of two points (the run after the gap has a single point, drawn as a dot);
    # Overall: one run of four.
    assert sorted(len(line.get("points").split()) for line in lines) == [2, 4]


def test_the_description_says_each_range_in_words() -> None:
    text = describe(_trend())
    assert "Pace ranges from 2 to 5, latest 2." in text
    assert "Overall ranges from 3.2 to 4.8, latest 3.2." in text
    assert text.endswith("The same numbers are in the table below the chart.")


def test_text_in_labels_is_escaped() -> None:
    chart = LineChart(
        title="<script>",
        x_labels=["a&b"],
        series=[Series("x<y", [1])],
        y_min=0,
        y_max=2,
        y_ticks=[0, 1, 2],
    )
    markup = str(render(chart, chart_id="c"))
    assert "<script>" not in markup
    ET.fromstring(markup)
