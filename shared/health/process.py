"""One process's two answers: live (its own loops come round) and ready (live, and what it
depends on answers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import structlog

from shared.db import Database
from shared.health.readiness import Readiness
from shared.health.report import Check, Report
from shared.settings import Settings

log = structlog.get_logger("attune.health")

Liveness = Callable[[], Iterable[Check]]


def _nothing_to_watch() -> Iterable[Check]:
    return ()


class ProcessHealth:
    """`liveness` gives a check per loop the process runs, asked afresh each time, so loops
    started after this was made are watched too."""

    def __init__(self, readiness: Readiness, liveness: Liveness = _nothing_to_watch) -> None:
        self._readiness = readiness
        self._liveness = liveness
        self._lock = threading.Lock()
        self._failing: list[str] = []

    def live(self) -> Report:
        return Report(tuple(self._liveness()))

    def ready(self) -> Report:
        # Not ready when not live: a process whose workers died cannot do its job either,
        # and one probe (docker-compose's healthcheck) then tells both.
        report = self.live() + self._readiness.report()
        self._log_change(report)
        return report

    def _log_change(self, report: Report) -> None:
        # Probed every few seconds: a line when the answer changes, not one per probe.
        with self._lock:
            changed, self._failing = report.failing != self._failing, report.failing
        if not changed:
            return
        if report.ok:
            log.info("health.ready")
        else:
            reasons = {c.name: c.reason for c in report.checks if not c.ok}
            log.warning("health.not_ready", failing=report.failing, reasons=reasons)


def process_health(
    db: Database, settings: Settings, liveness: Liveness = _nothing_to_watch
) -> ProcessHealth:
    """Redis is checked in the production mode only: the embedded mode has none."""
    from shared.db.migrations import history  # alembic's scripts, read once per process

    readiness = Readiness(db, redis_url=settings.redis_url, history=history())
    return ProcessHealth(readiness, liveness)
