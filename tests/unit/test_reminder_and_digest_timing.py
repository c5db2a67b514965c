"""The one reminder and the morning digest, in the reader's own zone, across clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.notifications.digests import digest_moment
from shared.practice.settings import QuietHours, Timing
from shared.scheduling.timing import reminder_at

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_a_reminder_that_would_come_after_the_survey_closes_is_not_sent() -> None:
    timing = Timing(reminder_after_hours=48, quiet_hours=None)
    sent = utc(2026, 6, 10, 15, 0)
    assert reminder_at(sent, timing, NEW_YORK, expires_at=sent + timedelta(hours=72)) == utc(
        2026, 6, 12, 15, 0
    )
    # The next session comes first and closes the survey: no reminder at all.
    assert reminder_at(sent, timing, NEW_YORK, expires_at=sent + timedelta(hours=30)) is None
    assert reminder_at(sent, timing, NEW_YORK, expires_at=sent + timedelta(hours=48)) is None


def test_quiet_hours_can_push_a_reminder_past_the_close() -> None:
    timing = Timing(reminder_after_hours=12)
    sent = utc(2026, 6, 10, 15, 0)  # 11:00 in New York; +12 h is 23:00, quiet until 08:00
    assert reminder_at(sent, timing, NEW_YORK, expires_at=utc(2026, 6, 11, 12, 0)) is None
    assert reminder_at(sent, timing, NEW_YORK, expires_at=utc(2026, 6, 11, 12, 1)) == utc(
        2026, 6, 11, 12, 0
    )


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        # 24 h after 22:00 EST on 7 March is 23:00 EDT on 8 March (clocks sprang forward):
        # quiet, so 08:00 EDT on 9 March.
        (utc(2026, 3, 8, 3, 0), utc(2026, 3, 9, 12, 0)),
        # 24 h after 20:00 EDT on 31 October is 19:00 EST on 1 November (clocks fell back):
        # still awake, so it goes then.
        (utc(2026, 11, 1, 0, 0), utc(2026, 11, 2, 0, 0)),
    ],
)
def test_reminders_across_daylight_saving_in_the_clients_zone(
    sent: datetime, expected: datetime
) -> None:
    timing = Timing(reminder_after_hours=24, quiet_hours=QuietHours())
    assert reminder_at(sent, timing, NEW_YORK) == expected


@pytest.mark.parametrize(
    ("day", "zone", "expected"),
    [
        (date(2026, 3, 7), NEW_YORK, utc(2026, 3, 7, 12, 0)),  # 07:00 EST
        (date(2026, 3, 8), NEW_YORK, utc(2026, 3, 8, 11, 0)),  # 07:00 EDT, the day clocks jump
        (date(2026, 10, 31), NEW_YORK, utc(2026, 10, 31, 11, 0)),  # 07:00 EDT
        (date(2026, 11, 1), NEW_YORK, utc(2026, 11, 1, 12, 0)),  # 07:00 EST, clocks fell back
        (date(2026, 3, 29), LONDON, utc(2026, 3, 29, 6, 0)),  # 07:00 BST
        (date(2026, 10, 25), LONDON, utc(2026, 10, 25, 7, 0)),  # 07:00 GMT
    ],
)
def test_the_digest_goes_at_the_same_wall_clock_hour_across_clock_changes(
    day: date, zone: ZoneInfo, expected: datetime
) -> None:
    moment = digest_moment(day, 7, zone)
    assert moment == expected
    assert moment.astimezone(zone).hour == 7


def test_a_digest_hour_skipped_by_the_clock_lands_just_after_the_change() -> None:
    # New York has no 02:00-02:59 on 8 March 2026: a 2 o'clock digest goes at 03:00 EDT.
    moment = digest_moment(date(2026, 3, 8), 2, NEW_YORK)
    assert moment == utc(2026, 3, 8, 7, 0)
    assert moment.astimezone(NEW_YORK).hour == 3
