"""The scheduler tick: long waits live in the database, and this finds what has come due.

Every job is a pair: a finder (across practices, through shared.db.due.find_due: ordered,
batched, SKIP LOCKED) and an act, a conditional claim in the item's own practice and its own
transaction, so several scheduler replicas can tick at once without doing anything twice. A
job runs only in this scheduler's turn at it (shared.db.due.job_turn), so a second replica
skips a job the first is running instead of finding and trying the same batch again.

Each item stands alone: one that raises is logged, held back with a growing delay and marked
failed after shared.work.failures.MAX_TRIES (shared.work.failures), and the tick goes on with
every other item, job and practice. A held-back item whose next try goes through has its
failure cleared in that try's transaction (shared.work.failures.recover). A job whose finder
fails (the database is away) is skipped this tick, and the next tick tries again.

Each item is handled with its practice id bound, and the request id of the work that created
it when its job knows one (`Job.origin`: a nudge's), so the act's log lines and the events it
emits follow that work (shared.logging).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog
from sqlmodel import Session

from services.metrics import scheduler as metrics
from shared.alerts import nudges
from shared.alerts import service as alerts
from shared.clock import Clock, SystemClock
from shared.db import Database
from shared.db.due import job_turn
from shared.health.pulse import Pulse
from shared.logging import following
from shared.notifications import delivery, digests
from shared.outbox import Publisher, relay
from shared.retention import DEFAULT_RETENTION, purge_expired
from shared.survey import invitations
from shared.work.failures import held_back, record_failure, recover
from shared.work.heartbeats import forget_dead, stale_after

log = structlog.get_logger("attune.scheduler")
BATCH = 200

Finder = Callable[..., list[tuple[UUID, UUID]]]
Act = Callable[..., bool]
Origin = Callable[[Session, UUID], str | None]


@dataclass(frozen=True)
class Job:
    name: str  # the name its finder holds failures under (shared.db.due.find_due)
    report: str  # the TickReport field that counts what it did
    find: Finder
    act: Act
    origin: Origin | None = None  # the request id an item was created under


@dataclass
class TickReport:
    invitations_sent: int = 0
    invitations_expired: int = 0
    reminders_sent: int = 0
    nudges_sent: int = 0
    digests_sent: int = 0
    notifications_requeued: int = 0
    answers_evaluated_late: int = 0
    invitations_scheduled_late: int = 0
    published: int = 0
    jobs_passed: int = 0  # jobs skipped this tick because another scheduler was running them
    items_failed: int = 0  # acts that raised this tick (held back, or marked failed)
    finds_failed: int = 0  # jobs skipped this tick because their finder raised
    failures: list[str] = field(default_factory=list)  # "job:item id" of each


def jobs(alive_since: datetime) -> list[Job]:
    """In order: what is due to clients and clinicians first, then the sweeps that put lost
    work back."""
    return [
        Job(
            "send_invitation",
            "invitations_sent",
            invitations.due_invitations,
            invitations.send_invitation,
        ),
        Job(
            "expire_invitation",
            "invitations_expired",
            invitations.expired_invitations,
            invitations.expire_invitation,
        ),
        Job(
            "send_reminder", "reminders_sent", invitations.due_reminders, invitations.send_reminder
        ),
        Job("send_nudge", "nudges_sent", nudges.due_nudges, nudges.send_nudge, nudges.origin),
        Job(
            "send_digest",
            "digests_sent",
            digests.digest_clinicians_with_nudges,
            digests.send_digest,
        ),
        Job(
            "schedule_late_invitation",
            "invitations_scheduled_late",
            invitations.unscheduled_appointments,
            invitations.schedule_invitation,
        ),
        Job(
            "evaluate_late_response",
            "answers_evaluated_late",
            alerts.unevaluated_responses,
            alerts.evaluate_late_response,
        ),
        Job(
            "release_notification",
            "notifications_requeued",
            functools.partial(delivery.stuck_notifications, alive_since=alive_since),
            functools.partial(delivery.release_notification, alive_since=alive_since),
        ),
        Job(
            "requeue_notification",
            "notifications_requeued",
            delivery.due_notifications,
            delivery.requeue_notification,
        ),
    ]


def _run(db: Database, now: datetime, job: Job, report: TickReport, batch: int) -> None:
    try:
        with job_turn(db, job.name) as ours:
            if ours:
                _find_and_act(db, now, job, report, batch)
            else:
                report.jobs_passed += 1
                metrics.count_items(job.name, "passed")
    except Exception:
        _find_failed(job, report)


def _find_failed(job: Job, report: TickReport) -> None:
    report.finds_failed += 1
    metrics.count_items(job.name, "find_failed")
    log.warning("scheduler.find_failed", job=job.name, exc_info=True)


def _find_and_act(db: Database, now: datetime, job: Job, report: TickReport, batch: int) -> None:
    try:
        # Only the finding crosses practices; each act runs as its own practice.
        with db.across_practices() as session:
            due = job.find(session, now=now, limit=batch)
            retrying = held_back(session, job.name, [item_id for _, item_id in due])
    except Exception:
        _find_failed(job, report)
        return
    done = failed = 0
    for practice_id, item_id in due:
        with structlog.contextvars.bound_contextvars(practice_id=str(practice_id)):
            try:
                done += _act(db, now, job, practice_id, item_id, retrying.get(item_id))
            except Exception as error:
                failed += 1
                report.failures.append(f"{job.name}:{item_id}")
                _hold_back(db, job, practice_id, item_id, error, now)
    report.items_failed += failed
    setattr(report, job.report, getattr(report, job.report) + done)
    metrics.count_items(job.name, "found", len(due))
    metrics.count_items(job.name, "done", done)
    metrics.count_items(job.name, "failed", failed)


def _act(
    db: Database,
    now: datetime,
    job: Job,
    practice_id: UUID,
    item_id: UUID,
    failure_id: UUID | None,
) -> bool:
    """`failure_id`: the item's work_failure row when this is a try after a failure; the
    try going through clears it, in the same transaction."""
    with (
        db.transaction(practice_id) as session,
        following(job.origin(session, item_id) if job.origin else None),
    ):
        acted = bool(job.act(session, item_id, now=now))
        if acted:
            log.info("scheduler.acted", job=job.name, item_id=str(item_id))
        if failure_id is not None:
            recover(session, failure_id, now=now)
    return acted


def _hold_back(
    db: Database, job: Job, practice_id: UUID, item_id: UUID, error: Exception, now: datetime
) -> None:
    # No traceback text in the log: an exception's message can carry row values.
    facts = {"job": job.name, "item_id": str(item_id), "error": type(error).__name__}
    try:
        setback = record_failure(db, practice_id, job.name, item_id, error, now=now)
    except Exception:
        log.error("scheduler.item_failed", **facts, recorded=False)
        return
    if setback.failed:
        log.error("scheduler.item_gave_up", **facts, attempts=setback.attempts)
    else:
        log.warning(
            "scheduler.item_failed",
            **facts,
            attempts=setback.attempts,
            retry_at=setback.retry_at.isoformat() if setback.retry_at else None,
        )


@metrics.timed_tick
def tick(
    db: Database,
    clock: Clock,
    publisher: Publisher,
    *,
    batch: int = BATCH,
    heartbeat_stale: timedelta = stale_after(5.0),
    wall_clock: Clock | None = None,
    retention: timedelta = DEFAULT_RETENTION,
    pulse: Pulse | None = None,
) -> TickReport:
    """`clock` says what is due; `wall_clock` (real time unless a test moves it) says which
    workers are alive: heartbeats are real seconds even when a test's clock jumps days.
    `pulse` beats after each job, so a long tick that is getting through its jobs stays live."""
    now = clock.now()
    wall_now = (wall_clock or SystemClock()).now()
    alive_since = wall_now - heartbeat_stale
    report = TickReport()
    for job in jobs(alive_since):
        _run(db, now, job, report, batch)
        if pulse is not None:
            pulse.beat()
    # Housekeeping, after the due work, before the relay; each step on its own, so one
    # failing does not stop the other.
    for step, run in (
        ("forget_dead_workers", lambda: forget_dead(db, now=wall_now)),
        ("purge_expired", lambda: purge_expired(db, now=now, keep=retention)),
    ):
        try:
            run()
        except Exception:
            log.warning("scheduler.housekeeping_failed", step=step, exc_info=True)
    # A sweep: on PostgreSQL each job's commit above already woke the workers' relays (the
    # outbox trigger's NOTIFY), so this finds what they missed, if anything; SKIP LOCKED lets
    # it pass them by. The broker being away ends the tick here (run_forever logs it and
    # tries again): the work done above is committed, its events wait in the outbox.
    report.published = relay(db, publisher, clock)
    counts = {k: v for k, v in vars(report).items() if k != "failures"}
    if any(counts.values()):
        log.info("scheduler.tick", **counts)
    return report


def run_forever(
    db: Database,
    clock: Clock,
    publisher: Publisher,
    *,
    interval: float,
    stop: threading.Event,
    heartbeat_stale: timedelta = stale_after(5.0),
    retention: timedelta = DEFAULT_RETENTION,
    pulse: Pulse | None = None,
) -> None:
    while not stop.is_set():
        try:
            tick(
                db,
                clock,
                publisher,
                heartbeat_stale=heartbeat_stale,
                retention=retention,
                pulse=pulse,
            )
        except Exception:
            # A database or broker outage must not end the loop: the next tick tries again.
            log.exception("scheduler.tick_failed")
        if pulse is not None:
            pulse.beat()
        stop.wait(interval)
