"""When a loop last came round: what a process's liveness is judged on.

Liveness is about whether restarting the process would help. A loop that still comes round
while the database is away is alive (readiness says the database is away, and a restart
would not bring it back); a loop that has stopped coming round, a dead or wedged thread, is
not, and only a restart mends it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.health.report import Check


class Pulse:
    """Monotonic, so a wall-clock jump (NTP, a test's clock) never makes a loop look dead."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._at = clock()

    def beat(self) -> None:
        with self._lock:
            self._at = self._clock()

    def age(self) -> float:
        with self._lock:
            return self._clock() - self._at


def loop_check(name: str, age: float, limit: float) -> Check:
    if age <= limit:
        return Check(name, True)
    return Check(name, False, f"has not come round for {age:.0f} s (limit {limit:.0f} s)")


def threads_check(name: str, threads: list[threading.Thread]) -> Check:
    dead = sum(not thread.is_alive() for thread in threads)
    if not threads:
        return Check(name, False, "none running")
    if dead:
        return Check(name, False, f"{dead} of {len(threads)} threads have died")
    return Check(name, True)
