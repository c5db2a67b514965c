"""How a clinician's pages show the domain: times in the viewer's zone, an alert as evidence
and moves, a client's answers as a trend chart with the same numbers in a table. Pure: rows in,
what the templates print out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from markupsafe import Markup

from services.api.pages.charts import LineChart, Mark, Series, legend, render
from shared.alerts.explain import nudge_points
from shared.alerts.what_helped import helped_first
from shared.alerts.wording import evidence_lines, item_name, outcome_line, tenths
from shared.models import Alert, AlertStatus, Nudge, NudgeStatus, Response
from shared.survey.items import SCALE_MAX, SCALE_MIN, SurveyItem
from shared.survey.moves import MOVE_ADVICE, MOVE_TITLES, Move


def when(moment: datetime, timezone: str) -> str:
    """ "Mon 2 Mar, 14:00" in the viewer's own zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def day(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b} {local.year}"


@dataclass(frozen=True)
class MoveShown:
    move: Move
    title: str
    reason: str
    advice: str
    helped_before: bool


@dataclass(frozen=True)
class AlertShown:
    alert: Alert
    evidence: list[str]
    moves: list[MoveShown]
    status: str  # in words
    outcome: str | None  # None until a nudge went (nothing to recover from yet)


def alert_shown(
    alert: Alert,
    items: Mapping[str, SurveyItem],
    *,
    helped: Sequence[Move] = (),
    nudge: Nudge | None = None,
) -> AlertShown:
    reasons = dict(nudge_points(alert.evidence, items))
    suggested = [Move(m) for m in alert.moves]
    ordered = helped_first(suggested, helped)
    moves = [
        MoveShown(
            move=move,
            title=MOVE_TITLES[move],
            reason=reasons.get(move, ""),
            advice=MOVE_ADVICE[move],
            helped_before=move in helped,
        )
        for move in ordered
    ]
    nudged = nudge is not None and nudge.status is NudgeStatus.SENT
    return AlertShown(
        alert=alert,
        evidence=evidence_lines(alert.evidence, items),
        moves=moves,
        status=status_words(alert, nudge),
        outcome=outcome_line(alert.repair, alert.repair_mean, alert.repair_target)
        if nudged or alert.repair is not None
        else None,
    )


def status_words(alert: Alert, nudge: Nudge | None) -> str:
    if alert.status is AlertStatus.ACKNOWLEDGED:
        used = alert.addressed_move
        return "Addressed" + (f": {MOVE_TITLES[Move(used)].lower()}" if used else "")
    if alert.target_appointment_id is None:
        return "Open, waiting for their next booking"
    if nudge is not None and nudge.status is NudgeStatus.SENT:
        return "Open, nudge sent"
    return "Open, nudge before their next session"


@dataclass(frozen=True)
class TrendRow:
    when: str
    scores: list[str]
    overall: str
    notes: str


@dataclass(frozen=True)
class Trend:
    chart: LineChart
    svg: Markup
    legend: list[tuple[str, str, str]]
    columns: list[str]
    rows: list[TrendRow]


def trend(
    answers: Sequence[Response],
    items: Mapping[str, SurveyItem],
    alerts: Sequence[Alert],
    nudges: Mapping[UUID, Nudge],
    *,
    timezone: str,
    title: str,
    chart_id: str,
    last: int | None = None,
) -> Trend:
    """Each item and the overall mean over the client's answers, a dip marked where an alert
    was raised and a nudge where the clinician was nudged before that session."""
    shown = list(answers)[-last:] if last else list(answers)
    keys = [key for key in items if any(key in a.scores for a in shown)]
    keys += sorted({k for a in shown for k in a.scores} - set(keys))
    labels = [day(a.submitted_at, timezone).rsplit(" ", 1)[0] for a in shown]
    index_of_response = {a.id: i for i, a in enumerate(shown)}
    index_of_session = {a.appointment_id: i for i, a in enumerate(shown)}
    marks: list[Mark] = []
    notes: dict[int, list[str]] = {}
    for alert in alerts:
        at = index_of_response.get(alert.response_id) if alert.response_id else None
        if at is not None:
            marks.append(Mark(at, "Dip", "dip"))
            notes.setdefault(at, []).append("Dip")
    for appointment_id, nudge in nudges.items():
        at = index_of_session.get(appointment_id)
        if at is not None and nudge.status is NudgeStatus.SENT:
            marks.append(Mark(at, "Nudge before this session", "nudge"))
            notes.setdefault(at, []).append("Nudge before this session")
    series = [Series(item_name(key, items), [_score(a, key) for a in shown]) for key in keys] + [
        Series("Overall", [a.mean for a in shown], emphasis=True)
    ]
    chart = LineChart(
        title=title,
        x_labels=labels,
        series=series,
        y_min=SCALE_MIN,
        y_max=SCALE_MAX,
        y_ticks=list(range(SCALE_MIN, SCALE_MAX + 1)),
        marks=sorted(marks, key=lambda m: m.index),
    )
    rows = [
        TrendRow(
            when=labels[i],
            scores=[str(a.scores.get(key, "")) for key in keys],
            overall=str(tenths(a.mean)),
            notes=", ".join(notes.get(i, [])),
        )
        for i, a in enumerate(shown)
    ]
    return Trend(
        chart=chart,
        svg=render(chart, chart_id=chart_id),
        legend=legend(chart),
        columns=[item_name(k, items) for k in keys],
        rows=rows,
    )


def _score(answer: Response, key: str) -> float | None:
    value = answer.scores.get(key)
    return float(value) if value is not None else None
