"""Time is injected: every component asks a Clock, and tests hold one they can move."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

# The span of moments Attune schedules and reports on: far enough either way for any real
# appointment, near enough that adding days and hours in any zone stays inside the calendar.
# Anything outside is a typo (year 20026) or a number read as seconds since 1970.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; shared safely between threads."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


class SwitchableClock(ManualClock):
    """Manual until `go_live()`, then the system time. The embedded demo writes weeks of
    history on the manual clock, then keeps running in real time."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._live = False

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) if self._live else self._now

    def go_live(self) -> None:
        with self._lock:
            self._live = True
