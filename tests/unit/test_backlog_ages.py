"""How long the oldest waiting item has waited: the number the safety alerts compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.work.backlog import age_seconds

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_nothing_waiting_is_no_age() -> None:
    assert age_seconds(None, NOW) == 0.0


def test_the_age_is_the_time_since_the_oldest() -> None:
    assert age_seconds(NOW - timedelta(minutes=3, seconds=1.5), NOW) == 181.5


def test_an_item_from_the_future_has_not_waited() -> None:
    # A clock moved back, or a row stamped by a machine whose clock runs ahead.
    assert age_seconds(NOW + timedelta(seconds=5), NOW) == 0.0
