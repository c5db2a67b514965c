"""One process's two answers: live (its own loops come round) and ready (live, and what it
depends on answers)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import structlog

from shared.health.readiness import Readiness
from shared.health.report import Check, Report

log = structlog.get_logger("attune.health")


class ProcessHealth:
    def __init__(self, readiness: Readiness, liveness: Sequence[Callable[[], Check]] = ()) -> None:
        self._readiness = readiness
        self._liveness = list(liveness)
        self._lock = threading.Lock()
        self._failing: list[str] = []

    def live(self) -> Report:
        return Report(tuple(check() for check in self._liveness))

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
