"""The arithmetic of holding back failed work and of noticing a dead worker."""

from __future__ import annotations

from datetime import timedelta

from shared.work.failures import MAX_TRIES, retry_after
from shared.work.heartbeats import stale_after


def test_failed_work_waits_longer_each_time_and_is_given_up_after_the_last_try() -> None:
    waits = [retry_after(attempts) for attempts in range(1, MAX_TRIES + 1)]
    assert waits[:-1] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert waits[-1] is None
    assert retry_after(MAX_TRIES + 10) is None
    assert retry_after(0) == timedelta(minutes=1)


def test_a_worker_is_dead_after_three_missed_beats() -> None:
    assert stale_after(5.0) == timedelta(seconds=15)
    assert stale_after(0.5) == timedelta(seconds=1.5)
