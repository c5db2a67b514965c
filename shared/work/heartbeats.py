"""Worker heartbeats: each worker process stamps its row every few seconds, and its claims
are handed back once the stamp is older than STALE_BEATS beats (a dead worker is noticed in
seconds, not after a fixed ten-minute timeout)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from sqlalchemy import delete, update
from sqlmodel import col

from shared.clock import Clock, SystemClock
from shared.db import Database, insert_ignoring_conflict
from shared.health.pulse import Pulse
from shared.models import WorkerHeartbeat

log = structlog.get_logger("attune.heartbeat")

# Missing three beats in a row is death, not a slow beat: with the default 5 s beat a dead
# worker's claims are back within 15 s plus one scheduler tick.
STALE_BEATS = 3


def stale_after(beat_seconds: float) -> timedelta:
    return timedelta(seconds=beat_seconds * STALE_BEATS)


def beat(db: Database, worker_id: UUID, *, now: datetime) -> None:
    with db.transaction() as session:
        stamped = session.exec(
            update(WorkerHeartbeat).where(col(WorkerHeartbeat.id) == worker_id).values(beat_at=now)
        ).rowcount
        if stamped != 1:
            insert_ignoring_conflict(
                session,
                WorkerHeartbeat,
                {"id": worker_id, "started_at": now, "beat_at": now},
                ["id"],
            )


def retire(db: Database, worker_id: UUID) -> None:
    """A worker that stops cleanly says so; its claims (none, once it has drained) are free."""
    with db.transaction() as session:
        session.execute(delete(WorkerHeartbeat).where(col(WorkerHeartbeat.id) == worker_id))


# A killed worker never retires its row; the scheduler forgets rows this old.
FORGET_AFTER = timedelta(days=1)


def forget_dead(db: Database, *, now: datetime) -> int:
    """Drop the rows of workers silent for FORGET_AFTER (wall-clock `now`); their claims were
    handed back long before."""
    with db.transaction() as session:
        return int(
            session.exec(
                delete(WorkerHeartbeat).where(col(WorkerHeartbeat.beat_at) < now - FORGET_AFTER)
            ).rowcount
        )


class HeartbeatThread:
    """Beats in wall-clock time (SystemClock unless a test gives another): liveness is about
    real seconds, whatever clock the schedules run on."""

    def __init__(
        self, db: Database, worker_id: UUID, *, every: float, clock: Clock | None = None
    ) -> None:
        self._db, self.worker_id, self._every = db, worker_id, every
        self._clock = clock or SystemClock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        # Each attempt, written or not: the liveness of the loop, not of the database.
        self.pulse = Pulse()

    def start(self) -> None:
        # The first beat before any message is taken: a claim never names an unknown worker.
        beat(self._db, self.worker_id, now=self._clock.now())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            retire(self._db, self.worker_id)
        except Exception:
            log.warning("heartbeat.retire_failed", exc_info=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                beat(self._db, self.worker_id, now=self._clock.now())
            except Exception:
                # The database is away; so is every claim's finish. A claim handed back
                # meanwhile may be sent twice (the at-least-once window, README "Faults").
                log.warning("heartbeat.failed", exc_info=True)
            self.pulse.beat()
