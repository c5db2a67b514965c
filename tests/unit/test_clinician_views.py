"""What the clinician's pages draw from rows, without a database: the trend with its dips and
nudges in the right places, and the week ahead in the viewer's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from services.api.pages.clinician.views import trend, when
from shared.casebook.week import window
from shared.models import Alert, Nudge, NudgeStatus, Response
from shared.survey.items import BUILT_IN_ITEMS

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
PRACTICE, CLIENT, CLINICIAN = uuid4(), uuid4(), uuid4()


def _answer(day: int, score: int) -> Response:
    return Response(
        id=uuid4(),
        practice_id=PRACTICE,
        invitation_id=uuid4(),
        client_id=CLIENT,
        clinician_id=CLINICIAN,
        appointment_id=uuid4(),
        scores={"honest": score, "pace": score - 1 if score > 1 else 1},
        mean=(score + max(score - 1, 1)) / 2,
        submitted_at=T0 + timedelta(days=day),
    )


def test_a_dip_is_marked_at_its_answer_and_a_nudge_at_the_session_it_was_about() -> None:
    answers = [_answer(0, 5), _answer(7, 2), _answer(14, 4)]
    dip = Alert(
        practice_id=PRACTICE,
        source_key="x",
        client_id=CLIENT,
        clinician_id=CLINICIAN,
        response_id=answers[1].id,
        settings_version=1,
        evidence=[],
        moves=[],
        created_at=answers[1].submitted_at,
    )
    nudge = Nudge(
        practice_id=PRACTICE,
        appointment_id=answers[2].appointment_id,
        clinician_id=CLINICIAN,
        status=NudgeStatus.SENT,
        due_at=T0,
        created_at=T0,
    )
    pending = Nudge(
        practice_id=PRACTICE,
        appointment_id=answers[0].appointment_id,
        clinician_id=CLINICIAN,
        status=NudgeStatus.PENDING,
        due_at=T0,
        created_at=T0,
    )
    shown = trend(
        answers,
        BUILT_IN_ITEMS,
        [dip],
        {nudge.appointment_id: nudge, pending.appointment_id: pending},
        timezone="Europe/London",
        title="RC-1001",
        chart_id="t",
    )
    assert [(m.index, m.kind) for m in shown.chart.marks] == [(1, "dip"), (2, "nudge")]
    assert shown.columns == ["Honesty", "Pace"]
    assert [s.name for s in shown.chart.series] == ["Honesty", "Pace", "Overall"]
    assert [(r.when, r.scores, r.overall, r.notes) for r in shown.rows] == [
        ("Mon 2 Mar", ["5", "4"], "4.5", ""),
        ("Mon 9 Mar", ["2", "1"], "1.5", "Dip"),
        ("Mon 16 Mar", ["4", "3"], "3.5", "Nudge before this session"),
    ]
    assert 'aria-labelledby="t-title t-desc"' in shown.svg


def test_only_the_latest_answers_when_asked() -> None:
    answers = [_answer(day, 4) for day in range(20)]
    shown = trend(answers, BUILT_IN_ITEMS, [], {}, timezone="UTC", title="x", chart_id="t", last=12)
    assert len(shown.rows) == 12 and shown.rows[-1].when == "Sat 21 Mar"


def test_the_week_runs_from_local_midnight_today_through_the_seventh_day_after() -> None:
    # 23:30 UTC on Monday is already Tuesday in Auckland.
    start, end = window(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "Pacific/Auckland")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-03T00:00:00+13:00",
        "2026-03-11T00:00:00+13:00",
    )
    assert when(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "Pacific/Auckland") == "Tue 3 Mar, 12:30"
