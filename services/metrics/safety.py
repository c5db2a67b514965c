"""The safety figures (shared.work.backlog) as gauges, read from the database at scrape time.

Registered once; a process points it at its database with `watch`. Only the process that
runs the scheduler does (services.bootstrap.Stack.start_scheduler): `attune scheduler` in
production, `attune serve` in the embedded mode. Every process reading them would make one
figure several series that a careless sum() would add up.

Ages use the application's clock, so a test moves them by moving its clock. A failed read
(the database is away) answers attune_safety_figures_up 0 and no figures rather than failing
the whole scrape: the process's own metrics still come through.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

import structlog
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.clock import Clock
from shared.db import Database
from shared.work.backlog import Backlog, age_seconds, read_backlog

log = structlog.get_logger("attune.metrics")


class SafetyFigures(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._source: tuple[Database, Clock] | None = None

    def watch(self, db: Database, clock: Clock) -> None:
        with self._lock:
            self._source = (db, clock)

    def forget(self, db: Database) -> None:
        with self._lock:
            if self._source is not None and self._source[0] is db:
                self._source = None

    def describe(self) -> Iterable[Metric]:
        # Nothing to check at registration: collect() reads the database.
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            source = self._source
        if source is None:
            return
        db, clock = source
        up = GaugeMetricFamily(
            "attune_safety_figures_up", "1 if the safety figures below could be read, else 0"
        )
        now = clock.now()
        try:
            with db.across_practices() as session:
                backlog = read_backlog(session, now=now)
        except Exception:
            log.warning("metrics.safety_read_failed", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges(backlog, now)


def gauges(backlog: Backlog, now: datetime) -> Iterator[Metric]:
    def gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily(name, text, value=value)

    yield gauge(
        "attune_outbox_backlog",
        "Outbox events committed but not yet published to the broker",
        backlog.outbox_unpublished,
    )
    yield gauge(
        "attune_outbox_oldest_age_seconds",
        "Age of the oldest unpublished outbox event (0 when none)",
        age_seconds(backlog.outbox_oldest, now),
    )
    yield gauge(
        "attune_answers_unevaluated",
        "Clients' answers not yet evaluated for a dip",
        backlog.answers_unevaluated,
    )
    yield gauge(
        "attune_answers_unevaluated_oldest_age_seconds",
        "Age of the oldest answer not yet evaluated (0 when none)",
        age_seconds(backlog.answers_oldest, now),
    )
    emails = GaugeMetricFamily(
        "attune_emails",
        "Emails not delivered yet or given up on, by state (pending, sending, failed)",
        labels=["state"],
    )
    for state, count in sorted(backlog.emails.items()):
        emails.add_metric([state.value], count)
    yield emails
    yield gauge(
        "attune_emails_overdue_oldest_age_seconds",
        "How long the oldest pending email has been past its next attempt time (0 when none)",
        age_seconds(backlog.emails_overdue_oldest, now),
    )
    yield gauge(
        "attune_nudges_due_next_hour_unsent",
        "Nudges (own email, not digest) due within the next hour or overdue, not yet sent",
        backlog.nudges_unsent_within_hour,
    )
    yield gauge(
        "attune_nudges_overdue_oldest_age_seconds",
        "How long the oldest unsent nudge (own email) has been past its due time (0 when none)",
        age_seconds(backlog.nudges_overdue_oldest, now),
    )
    failures = GaugeMetricFamily(
        "attune_work_failures",
        "Due work and messages that failed, by job and state (retrying, failed)",
        labels=["job", "state"],
    )
    for (job, held), count in sorted(backlog.work_failures.items()):
        failures.add_metric([job, held], count)
    yield failures


SAFETY = SafetyFigures()
REGISTRY.register(SAFETY)
