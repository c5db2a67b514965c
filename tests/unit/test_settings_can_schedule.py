"""Every settings document the API accepts can schedule, in any zone, across clock changes.

The documents are drawn as raw JSON (what an owner could send, including times with zones,
numbers for times, values at and past every bound) and put through the same validation model
the API uses for PUT and PATCH (`PracticeSettings`); whatever it accepts must then schedule an
invitation, its expiry, its reminder, a nudge and a digest without error, and the answers
must make sense: never before the practice's delay, never inside quiet hours on the reader's
clock, a reminder only while the survey is open, a nudge before its appointment.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.notifications.digests import digest_moment
from shared.practice.settings import PracticeSettings, merged
from shared.scheduling.timing import (
    invitation_expires_at,
    invitation_send_at,
    nudge_due_at,
    reminder_at,
)

ZONES = sorted(available_timezones() - {"Factory", "localtime"})

times_of_day = st.one_of(
    # Valid local times, with and without seconds and fractions.
    st.times().map(lambda t: t.isoformat()),
    st.times().map(lambda t: t.strftime("%H:%M")),
    # What the API must refuse: a zone, a number, another type, nonsense.
    st.times(timezones=st.timezones()).map(lambda t: t.isoformat()),
    st.sampled_from(["22:00:00Z", "13:00:00+01:00", "24:00", "7pm", ""]),
    st.integers(-100_000, 100_000),
    st.floats(allow_nan=True),
    st.booleans(),
    st.none(),
)


def bounded(low: float, high: float) -> st.SearchStrategy[Any]:
    """Values around a field's bounds, and other types."""
    return st.one_of(
        st.integers(int(low) - 2, int(high) + 2),
        st.floats(low - 1, high + 1, allow_nan=False),
        st.sampled_from([low, high, None, "12", True]),
    )


@st.composite
def settings_documents(draw: st.DrawFn) -> dict[str, Any]:
    quiet = draw(
        st.one_of(st.none(), st.fixed_dictionaries({"start": times_of_day, "end": times_of_day}))
    )
    return {
        "timezone": draw(st.sampled_from(ZONES)),
        "timing": {
            "survey_delay_minutes": draw(bounded(0, 7 * 24 * 60)),
            "survey_expiry_hours": draw(bounded(1, 30 * 24)),
            "reminder_after_hours": draw(st.one_of(st.none(), bounded(1, 14 * 24))),
            "alert_lead_hours": draw(bounded(0, 14 * 24)),
            "quiet_hours": quiet,
        },
    }


def near_clock_changes(zone: ZoneInfo) -> st.SearchStrategy[datetime]:
    """Moments in 2025-2027, drawn on the zone's own wall clock (hypothesis favours the
    skipped and repeated hours of its changes), as UTC."""
    return st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2027, 12, 31),
        timezones=st.just(zone),
        allow_imaginary=True,
    ).map(lambda local: local.astimezone(UTC))


def in_quiet_hours(wall: time, start: time, end: time) -> bool:
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(document=settings_documents(), data=st.data())
def test_every_accepted_document_schedules_in_any_zone(
    document: dict[str, Any], data: st.DataObject
) -> None:
    try:
        accepted = PracticeSettings.model_validate(document)
    except ValidationError:
        assume(False)
        return
    # A PATCH of the same fields over the defaults is the same document.
    assert merged(PracticeSettings(), document) == accepted
    timing = accepted.timing
    practice_zone = accepted.zone
    client_zone = ZoneInfo(data.draw(st.sampled_from(ZONES), label="client zone"))
    session_end = data.draw(near_clock_changes(client_zone), label="session end")
    next_start = data.draw(
        st.one_of(st.none(), near_clock_changes(practice_zone)), label="next appointment"
    )

    send_at = invitation_send_at(session_end, timing, client_zone)
    assert send_at.utcoffset() == timedelta(0)
    assert send_at >= session_end + timing.survey_delay
    # Held at most until the quiet hours end: a day, plus an hour a clock change may add.
    assert send_at - (session_end + timing.survey_delay) <= timedelta(hours=25)
    if timing.quiet_hours is not None:
        wall = send_at.astimezone(client_zone).time()
        assert not in_quiet_hours(wall, timing.quiet_hours.start, timing.quiet_hours.end), (
            wall,
            timing.quiet_hours,
        )

    expires_at = invitation_expires_at(send_at, timing, next_start)
    assert send_at < expires_at <= send_at + timing.survey_expiry

    reminder = reminder_at(send_at, timing, client_zone, expires_at=expires_at)
    if timing.reminder_after_hours is None:
        assert reminder is None
    elif reminder is not None:
        assert send_at < reminder < expires_at

    if next_start is not None:
        assert nudge_due_at(next_start, timing) <= next_start
        local_day = next_start.astimezone(practice_zone).date()
        for hour in range(24):
            assert digest_moment(local_day, hour, practice_zone).utcoffset() == timedelta(0)
