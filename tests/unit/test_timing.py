"""Scheduling arithmetic: quiet hours in the reader's zone, expiry, reminders, nudges."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.practice.settings import QuietHours, Timing
from shared.scheduling.timing import (
    invitation_expires_at,
    invitation_send_at,
    nudge_due_at,
    out_of_quiet_hours,
    reminder_at,
)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
UTC_ZONE = ZoneInfo("UTC")
DEFAULT_QUIET = QuietHours()  # 21:00 to 08:00


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def wall(moment: datetime, zone: ZoneInfo) -> tuple[int, int, int, int, int]:
    """The reader's clock at a moment, as (year, month, day, hour, minute)."""
    local = moment.astimezone(zone)
    return (local.year, local.month, local.day, local.hour, local.minute)


def is_quiet(moment: datetime, quiet: QuietHours, zone: ZoneInfo) -> bool:
    """Independent statement of the rule: the reader's wall clock lies in [start, end)."""
    clock = moment.astimezone(zone).time()
    if quiet.start == quiet.end:
        return False
    if quiet.start < quiet.end:
        return quiet.start <= clock < quiet.end
    return clock >= quiet.start or clock < quiet.end


def exists(day: datetime, clock: time, zone: ZoneInfo) -> bool:
    """Whether the reader's clock shows this time on this (local) day: not in a skipped hour."""
    local = datetime.combine(day.date(), clock, tzinfo=zone)
    return local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None)


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


# --- quiet hours -------------------------------------------------------------------------


def test_a_moment_outside_quiet_hours_is_kept() -> None:
    moment = utc(2026, 6, 10, 15, 30)  # 11:30 in New York
    assert out_of_quiet_hours(moment, DEFAULT_QUIET, NEW_YORK) == moment


def test_late_evening_moves_to_next_morning() -> None:
    moment = utc(2026, 6, 11, 2, 0)  # 22:00 on 10 June in New York (EDT)
    result = out_of_quiet_hours(moment, DEFAULT_QUIET, NEW_YORK)
    assert result == utc(2026, 6, 11, 12, 0)
    assert wall(result, NEW_YORK) == (2026, 6, 11, 8, 0)
    assert_utc(result)


def test_small_hours_move_to_the_same_mornings_end() -> None:
    moment = utc(2026, 6, 11, 7, 15)  # 03:15 in New York
    assert out_of_quiet_hours(moment, DEFAULT_QUIET, NEW_YORK) == utc(2026, 6, 11, 12, 0)


def test_quiet_hours_start_is_inclusive_and_end_exclusive() -> None:
    start = utc(2026, 6, 11, 1, 0)  # 21:00 EDT
    assert out_of_quiet_hours(start, DEFAULT_QUIET, NEW_YORK) == utc(2026, 6, 11, 12, 0)
    just_before = start - timedelta(seconds=1)
    assert out_of_quiet_hours(just_before, DEFAULT_QUIET, NEW_YORK) == just_before
    end = utc(2026, 6, 11, 12, 0)  # 08:00 EDT
    assert out_of_quiet_hours(end, DEFAULT_QUIET, NEW_YORK) == end
    just_before_end = end - timedelta(microseconds=1)
    assert out_of_quiet_hours(just_before_end, DEFAULT_QUIET, NEW_YORK) == end


def test_no_quiet_hours_keeps_every_moment() -> None:
    for hour in (0, 3, 22, 23):
        moment = utc(2026, 6, 11, hour, 0)
        assert out_of_quiet_hours(moment, None, NEW_YORK) == moment


def test_quiet_hours_that_start_and_end_together_are_never_quiet() -> None:
    quiet = QuietHours(start=time(9, 0), end=time(9, 0))
    for hour in range(24):
        moment = utc(2026, 6, 11, hour, 0)
        assert out_of_quiet_hours(moment, quiet, UTC_ZONE) == moment


def test_a_window_within_one_day() -> None:
    lunch = QuietHours(start=time(12, 0), end=time(14, 0))
    assert out_of_quiet_hours(utc(2026, 6, 11, 11, 59), lunch, UTC_ZONE) == utc(2026, 6, 11, 11, 59)
    assert out_of_quiet_hours(utc(2026, 6, 11, 12, 0), lunch, UTC_ZONE) == utc(2026, 6, 11, 14)
    assert out_of_quiet_hours(utc(2026, 6, 11, 13, 30), lunch, UTC_ZONE) == utc(2026, 6, 11, 14)
    assert out_of_quiet_hours(utc(2026, 6, 11, 14, 0), lunch, UTC_ZONE) == utc(2026, 6, 11, 14)
    # Outside a window that does not span midnight, late evening and early morning are fine.
    assert out_of_quiet_hours(utc(2026, 6, 11, 23, 0), lunch, UTC_ZONE) == utc(2026, 6, 11, 23)
    assert out_of_quiet_hours(utc(2026, 6, 11, 3, 0), lunch, UTC_ZONE) == utc(2026, 6, 11, 3)


def test_a_window_within_one_day_in_a_zone_with_an_offset() -> None:
    night_shift = QuietHours(start=time(1, 0), end=time(6, 30))
    moment = utc(2026, 1, 20, 20, 0)  # 01:30 on 21 January in Kolkata (+05:30)
    result = out_of_quiet_hours(moment, night_shift, KOLKATA)
    assert result == utc(2026, 1, 21, 1, 0)
    assert wall(result, KOLKATA) == (2026, 1, 21, 6, 30)


# --- daylight saving ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # New York springs forward on 8 March 2026 (EST -5 to EDT -4) at 02:00.
        (utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 12, 0)),  # 00:00 EST -> 08:00 EDT
        (utc(2026, 3, 8, 2, 30), utc(2026, 3, 8, 12, 0)),  # 21:30 EST the evening before
        (utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 12, 0)),  # 03:30 EDT, just after the change
        (utc(2026, 3, 7, 5, 0), utc(2026, 3, 7, 13, 0)),  # the day before: 08:00 EST
        # New York falls back on 1 November 2026 (EDT -4 to EST -5) at 02:00.
        (utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 13, 0)),  # 00:30 EDT -> 08:00 EST
        (utc(2026, 11, 1, 2, 0), utc(2026, 11, 1, 13, 0)),  # 22:00 EDT the evening before
        (utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 13, 0)),  # 01:30 EDT, first pass
        (utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 13, 0)),  # 01:30 EST, second pass
        (utc(2026, 11, 2, 4, 30), utc(2026, 11, 2, 13, 0)),  # the day after: 08:00 EST
    ],
)
def test_new_york_daylight_saving(moment: datetime, expected: datetime) -> None:
    result = out_of_quiet_hours(moment, DEFAULT_QUIET, NEW_YORK)
    assert result == expected
    assert result.astimezone(NEW_YORK).time() == time(8, 0)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Berlin springs forward on 29 March 2026 (CET +1 to CEST +2) at 01:00 UTC.
        (utc(2026, 3, 28, 22, 0), utc(2026, 3, 29, 6, 0)),  # 23:00 CET -> 08:00 CEST
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 6, 0)),  # 01:30 CET
        (utc(2026, 3, 29, 2, 0), utc(2026, 3, 29, 6, 0)),  # 04:00 CEST
        (utc(2026, 3, 27, 22, 0), utc(2026, 3, 28, 7, 0)),  # the night before: 08:00 CET
        # Berlin falls back on 25 October 2026 (CEST +2 to CET +1) at 01:00 UTC.
        (utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 7, 0)),  # 22:00 CEST -> 08:00 CET
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 7, 0)),  # 02:30 CEST, first pass
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 7, 0)),  # 02:30 CET, second pass
        (utc(2026, 10, 25, 20, 0), utc(2026, 10, 26, 7, 0)),  # 21:00 CET the day after
    ],
)
def test_berlin_daylight_saving(moment: datetime, expected: datetime) -> None:
    result = out_of_quiet_hours(moment, DEFAULT_QUIET, BERLIN)
    assert result == expected
    assert result.astimezone(BERLIN).time() == time(8, 0)


def test_a_quiet_end_inside_the_repeated_hour_is_not_skipped_a_day() -> None:
    """01:10 on the clock's second pass through 01:xx: quiet hours end at 01:30, 20 minutes on,
    not at 01:30 the next night."""
    quiet = QuietHours(start=time(23, 0), end=time(1, 30))
    first_pass = utc(2026, 11, 1, 5, 10)  # 01:10 EDT
    second_pass = utc(2026, 11, 1, 6, 10)  # 01:10 EST
    assert out_of_quiet_hours(first_pass, quiet, NEW_YORK) == utc(2026, 11, 1, 5, 30)
    assert out_of_quiet_hours(second_pass, quiet, NEW_YORK) == utc(2026, 11, 1, 6, 30)
    before = utc(2026, 11, 1, 4, 10)  # 00:10 EDT: the first 01:30 comes first
    assert out_of_quiet_hours(before, quiet, NEW_YORK) == utc(2026, 11, 1, 5, 30)


def test_a_quiet_end_inside_the_skipped_hour_lands_just_after_the_change() -> None:
    """02:30 does not exist on 8 March in New York: the send goes out soon after 03:00 EDT,
    on the same morning, outside quiet hours."""
    quiet = QuietHours(start=time(23, 0), end=time(2, 30))
    moment = utc(2026, 3, 8, 6, 45)  # 01:45 EST
    result = out_of_quiet_hours(moment, quiet, NEW_YORK)
    change = utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert change <= result <= change + timedelta(hours=1)
    assert not is_quiet(result, quiet, NEW_YORK)


# --- whose zone --------------------------------------------------------------------------


def test_quiet_hours_follow_the_clients_zone_not_the_practices() -> None:
    timing = Timing(survey_delay_minutes=60)
    session_end = utc(2026, 6, 10, 3, 0)  # 20:00 in Los Angeles, 05:00 in Berlin
    in_los_angeles = invitation_send_at(session_end, timing, LOS_ANGELES)
    assert wall(in_los_angeles, LOS_ANGELES) == (2026, 6, 10, 8, 0)
    assert in_los_angeles == utc(2026, 6, 10, 15, 0)
    in_berlin = invitation_send_at(session_end, timing, BERLIN)
    assert in_berlin == utc(2026, 6, 10, 6, 0)  # 08:00 CEST
    assert in_los_angeles != in_berlin


def test_a_client_abroad_while_the_practice_is_in_daylight() -> None:
    """Practice in New York at 17:00; client in Berlin where it is 23:00."""
    moment = utc(2026, 6, 10, 21, 0)
    assert out_of_quiet_hours(moment, DEFAULT_QUIET, NEW_YORK) == moment
    assert out_of_quiet_hours(moment, DEFAULT_QUIET, BERLIN) == utc(2026, 6, 11, 6, 0)


# --- invitations -------------------------------------------------------------------------


def test_invitation_is_sent_after_the_delay() -> None:
    session_end = utc(2026, 6, 10, 14, 0)  # 10:00 in New York
    assert invitation_send_at(session_end, Timing(), NEW_YORK) == utc(2026, 6, 10, 15, 0)
    no_delay = Timing(survey_delay_minutes=0)
    assert invitation_send_at(session_end, no_delay, NEW_YORK) == session_end
    two_days = Timing(survey_delay_minutes=2 * 24 * 60)
    assert invitation_send_at(session_end, two_days, NEW_YORK) == utc(2026, 6, 12, 14, 0)


def test_invitation_delay_that_lands_in_quiet_hours_waits_for_morning() -> None:
    session_end = utc(2026, 6, 11, 0, 30)  # 20:30 in New York; +60 min = 21:30
    assert invitation_send_at(session_end, Timing(), NEW_YORK) == utc(2026, 6, 11, 12, 0)
    without_quiet = Timing(quiet_hours=None)
    assert invitation_send_at(session_end, without_quiet, NEW_YORK) == utc(2026, 6, 11, 1, 30)


def test_invitation_expires_after_the_practice_expiry_without_a_next_session() -> None:
    sent = utc(2026, 6, 10, 15, 0)
    assert invitation_expires_at(sent, Timing(), None) == sent + timedelta(hours=72)
    assert invitation_expires_at(sent, Timing(survey_expiry_hours=5), None) == utc(
        2026, 6, 10, 20, 0
    )


def test_invitation_expires_at_the_next_session_when_that_comes_first() -> None:
    sent = utc(2026, 6, 10, 15, 0)
    next_start = utc(2026, 6, 11, 9, 0)
    assert invitation_expires_at(sent, Timing(), next_start) == next_start


def test_a_next_session_after_the_expiry_does_not_extend_it() -> None:
    sent = utc(2026, 6, 10, 15, 0)
    next_start = utc(2026, 6, 20, 9, 0)
    assert invitation_expires_at(sent, Timing(), next_start) == utc(2026, 6, 13, 15, 0)


def test_a_next_session_already_begun_is_ignored() -> None:
    sent = utc(2026, 6, 10, 15, 0)
    expiry = utc(2026, 6, 13, 15, 0)
    assert invitation_expires_at(sent, Timing(), sent) == expiry
    assert invitation_expires_at(sent, Timing(), sent - timedelta(hours=1)) == expiry


@given(
    sent=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    expiry_hours=st.integers(min_value=1, max_value=30 * 24),
    next_in=st.one_of(st.none(), st.integers(min_value=-10_000, max_value=100_000)),
)
def test_expiry_is_the_earlier_of_practice_expiry_and_next_session(
    sent: datetime, expiry_hours: int, next_in: int | None
) -> None:
    timing = Timing(survey_expiry_hours=expiry_hours)
    next_start = None if next_in is None else sent + timedelta(minutes=next_in)
    result = invitation_expires_at(sent, timing, next_start)
    practice_expiry = sent + timedelta(hours=expiry_hours)
    assert sent < result <= practice_expiry
    if next_start is not None and next_start > sent:
        assert result == min(practice_expiry, next_start)
    else:
        assert result == practice_expiry


# --- reminders ---------------------------------------------------------------------------


def test_no_reminder_unless_the_practice_sets_one() -> None:
    assert Timing().reminder_after_hours is None
    assert reminder_at(utc(2026, 6, 10, 15, 0), Timing(), NEW_YORK) is None


def test_reminder_after_the_set_hours() -> None:
    timing = Timing(reminder_after_hours=24)
    assert reminder_at(utc(2026, 6, 10, 15, 0), timing, NEW_YORK) == utc(2026, 6, 11, 15, 0)


def test_reminder_respects_the_clients_quiet_hours() -> None:
    timing = Timing(reminder_after_hours=12)
    sent = utc(2026, 6, 10, 15, 0)  # 11:00 in New York; +12 h = 23:00
    assert reminder_at(sent, timing, NEW_YORK) == utc(2026, 6, 11, 12, 0)
    # 03:00 UTC is 05:00 in Berlin: quiet there too, until 08:00 CEST.
    assert reminder_at(sent, timing, BERLIN) == utc(2026, 6, 11, 6, 0)
    no_quiet = Timing(reminder_after_hours=12, quiet_hours=None)
    assert reminder_at(sent, no_quiet, NEW_YORK) == utc(2026, 6, 11, 3, 0)


# --- nudges ------------------------------------------------------------------------------


def test_nudge_is_due_the_lead_time_before_the_session() -> None:
    start = utc(2026, 6, 12, 14, 0)
    assert nudge_due_at(start, Timing()) == utc(2026, 6, 11, 14, 0)
    assert nudge_due_at(start, Timing(alert_lead_hours=1.5)) == utc(2026, 6, 12, 12, 30)
    assert nudge_due_at(start, Timing(alert_lead_hours=0)) == start
    assert nudge_due_at(start, Timing(alert_lead_hours=72)) == utc(2026, 6, 9, 14, 0)


@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    lead=st.floats(min_value=0, max_value=14 * 24),
)
def test_nudge_due_is_start_minus_lead(start: datetime, lead: float) -> None:
    due = nudge_due_at(start, Timing(alert_lead_hours=lead))
    assert due == start - timedelta(hours=lead)
    assert due <= start


# --- properties of quiet hours -----------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
wall_times = st.times().map(lambda value: value.replace(microsecond=0))
quiet_hours = st.builds(QuietHours, start=wall_times, end=wall_times)
any_zone = st.sampled_from(
    [
        ZoneInfo("UTC"),
        NEW_YORK,
        BERLIN,
        LOS_ANGELES,
        KOLKATA,
        ZoneInfo("Australia/Lord_Howe"),  # a half-hour daylight-saving shift
        ZoneInfo("Pacific/Auckland"),
    ]
)
steady_zone = st.sampled_from([ZoneInfo("UTC"), KOLKATA, ZoneInfo("Asia/Tokyo")])


@given(moment=moments, quiet=quiet_hours, zone=any_zone)
def test_the_result_is_never_earlier_and_never_quiet(
    moment: datetime, quiet: QuietHours, zone: ZoneInfo
) -> None:
    result = out_of_quiet_hours(moment, quiet, zone)
    assert result >= moment
    assert result - moment <= timedelta(hours=25)
    assert not is_quiet(result, quiet, zone)
    if is_quiet(moment, quiet, zone):
        assert result > moment
        local = result.astimezone(zone)
        # The reader's clock shows the end of quiet hours, unless that time was skipped by
        # a spring-forward change that day: then it lands just after the change.
        assert local.time() == quiet.end or not exists(local, quiet.end, zone)
    else:
        assert result == moment


@given(moment=moments, quiet=quiet_hours, zone=steady_zone)
def test_without_clock_changes_the_result_is_the_first_moment_out_of_quiet_hours(
    moment: datetime, quiet: QuietHours, zone: ZoneInfo
) -> None:
    result = out_of_quiet_hours(moment, quiet, zone)
    if result != moment:
        assert result.astimezone(zone).time() == quiet.end
        assert is_quiet(result - timedelta(microseconds=1), quiet, zone)


@given(moment=moments, quiet=quiet_hours, zone=any_zone)
def test_out_of_quiet_hours_is_idempotent(
    moment: datetime, quiet: QuietHours, zone: ZoneInfo
) -> None:
    once = out_of_quiet_hours(moment, quiet, zone)
    assert out_of_quiet_hours(once, quiet, zone) == once
