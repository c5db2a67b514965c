"""Probes that cannot hang a health answer.

A database behind a dropped route answers nothing, and a connect or a read then waits for
the operating system's TCP timeout, minutes. Each probe runs on a daemon thread of its own
and is waited on for at most the deadline; a probe still hanging from an earlier answer is
waited on again rather than started twice, so a dead dependency probed every few seconds
never piles up threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class NoAnswer(Exception):
    """The probe did not finish within the deadline."""


@dataclass
class _Flight:
    probe: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None

    def start(self, name: str) -> None:
        threading.Thread(target=self._run, name=f"health-{name}", daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self.probe()
        except BaseException as error:  # reported to the waiter, whatever it is
            self.error = error
        finally:
            self.done.set()


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._flights: dict[str, _Flight] = {}

    def gather(self, probes: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
        """Runs every probe at once; each name maps to its result, or to the exception it
        raised (NoAnswer when it ran out of time). All together take at most the deadline."""
        flights: dict[str, _Flight] = {}
        with self._lock:
            for name, probe in probes.items():
                flight = self._flights.get(name)
                if flight is None or flight.done.is_set():
                    flight = _Flight(probe)
                    self._flights[name] = flight
                    flight.start(name)
                flights[name] = flight
        ends = time.monotonic() + self.seconds
        outcomes: dict[str, Any] = {}
        for name, flight in flights.items():
            if not flight.done.wait(max(0.0, ends - time.monotonic())):
                outcomes[name] = NoAnswer()
            elif flight.error is not None:
                outcomes[name] = flight.error
            else:
                outcomes[name] = flight.result
        return outcomes
