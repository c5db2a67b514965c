"""A relay thread for processes that write events (the API): it publishes soon after a
commit instead of waiting for the scheduler's next tick."""

from __future__ import annotations

import threading

import structlog

from shared.clock import Clock
from shared.db import Database
from shared.outbox import Publisher, relay

log = structlog.get_logger("attune.relay")


class RelayThread:
    def __init__(
        self, db: Database, publisher: Publisher, clock: Clock, *, interval: float = 5.0
    ) -> None:
        self._db, self._publisher, self._clock = db, publisher, clock
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                relay(self._db, self._publisher, self._clock)
            except Exception:
                # The broker or database is away; the rows stay unpublished until it is back.
                log.warning("relay.failed", exc_info=True)
