"""What wakes the outbox relay (shared.outbox.relay), soon after an event is committed
rather than at the scheduler's next tick. One relay function; two ways to wake it:

- RelayListener, in every `attune worker` on PostgreSQL: its own connection LISTENs on the
  channel migration 0015's trigger notifies at each commit that wrote an event. The API
  process writes events and does nothing more for them.
- RelayThread, in the one process of the embedded mode (SQLite has no NOTIFY): the API
  wakes it after a transaction that wrote an event (services.api.context).
"""

from __future__ import annotations

import threading
import time

import psycopg
import structlog

from shared.clock import Clock
from shared.db import Database
from shared.health.pulse import Pulse
from shared.outbox import CHANNEL, Publisher, relay

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
                # The traceback names no one: outbox rows hold actor names and ids only.
                log.warning("relay.failed", exc_info=True)


class RelayListener:
    """Relays on every notification, and every `sweep` seconds without one.

    The sweep is the guarantee; the notification only makes it prompt. A notification sent
    while the connection is down is never delivered, so on every (re)connection the listener
    relays once before it waits, and a pass that failed (the broker away) is tried again at
    the next sweep. The connection is the system role's (across_practices: the relay reads
    events of every practice); LISTEN needs no grant. `pulse` beats while the loop comes
    round, connected or not, for the worker's /health/live.

    Woken, it gathers for `gather` seconds before its pass: a pass costs about the same
    whatever it finds (its transaction, about 0.8 ms of CPU for one event against 0.13 ms per
    event in a batch, bench.relay), and every worker's relay wakes on every commit, so under
    load passes of one event or none were most of the relay's cost. A few milliseconds let one
    pass take the events of several answers; against the seconds an evaluation may wait in
    the queue they are nothing.
    """

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        clock: Clock,
        *,
        sweep: float = 5.0,
        gather: float = 0.02,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self._db, self._publisher, self._clock = db, publisher, clock
        self._sweep = sweep
        self._gather = gather
        self._backoff = backoff
        self._stop = threading.Event()
        self.pulse = Pulse()
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    if failures:
                        log.info("relay.listener_reconnected", attempts=failures)
                    failures = 0
                    self._listen(connection)
            except psycopg.Error as error:
                failures += 1
                wait = min(self._backoff[1], self._backoff[0] * 2 ** (failures - 1))
                # The class only: a connection error's message names the host and the role.
                log.warning(
                    "relay.listener_lost",
                    error=type(error).__name__,
                    attempt=failures,
                    retry_in_seconds=wait,
                )
                self._pause(wait)

    def _connect(self) -> psycopg.Connection:
        url = self._db.system_engine.url.set(drivername="postgresql")
        connection = psycopg.connect(
            url.render_as_string(hide_password=False),
            autocommit=True,
            connect_timeout=10,
            # A peer that vanished without closing (a dropped route) is noticed in about a
            # minute instead of the kernel's two hours; the sweep covers the gap meanwhile.
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def _listen(self, connection: psycopg.Connection) -> None:
        # Listening before this first pass: an event committed in between wakes the next.
        self._relay()
        while not self._stop.is_set():
            # At most a second per wait, so stop() and the pulse need not wait for a sweep.
            waited = 0.0
            woken = False
            while not woken and waited < self._sweep and not self._stop.is_set():
                step = min(1.0, self._sweep - waited)
                woken = bool(list(connection.notifies(timeout=step, stop_after=1)))
                waited += step
                self.pulse.beat()
            if woken:
                self._stop.wait(self._gather)
            if self._stop.is_set():
                return
            # What else came meanwhile is covered by the pass about to start.
            list(connection.notifies(timeout=0))
            self._relay()

    def _relay(self) -> None:
        try:
            relay(self._db, self._publisher, self._clock)
        except Exception:
            # The broker or the relay's own pool is away; the rows stay unpublished until a
            # later pass (a notification or the sweep) finds it back. The traceback names no
            # one: outbox rows hold actor names and ids only (shared.outbox.emit).
            log.warning("relay.failed", exc_info=True)
        self.pulse.beat()

    def _pause(self, seconds: float) -> None:
        """Waits `seconds` (less if stopped), beating the pulse: an outage is not a wedge."""
        ends = time.monotonic() + seconds
        while not self._stop.is_set():
            left = ends - time.monotonic()
            if left <= 0:
                return
            self.pulse.beat()
            self._stop.wait(min(1.0, left))
