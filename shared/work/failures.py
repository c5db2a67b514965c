"""Due work that raised: retried later with backoff, marked failed after MAX_TRIES.

The scheduler's finders (shared.db.due.find_due) leave out an item until its `retry_at`, and
for good once `failed_at` is set, so one poisoned row neither stops a tick nor comes first
again on the next. A message the broker gave up on is recorded the same way, as failed at once
(job "message:<actor>"), so what was dead-lettered can be counted (`attune work-failures`).

A held-back item whose next try goes through is cleared in that try's transaction (`recover`),
the way an operator's retry clears a row (shared.work.retry): it then counts as neither failed
nor retrying, and a later failure starts again from its first try. The scheduler looks up
which items of a batch were held back with one statement per batch (`held_back`), so an item
that never failed costs nothing more.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlmodel import Session, col, func, select

from shared.db import Database, insert_ignoring_conflict
from shared.db.claim import claim
from shared.models import WorkFailure

MAX_TRIES = 5
FIRST_RETRY = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)


def retry_after(attempts: int) -> timedelta | None:
    """How long to hold an item back after its `attempts`-th failure: 1, 2, 4, 8 minutes, then
    None (no more tries: it is marked failed). Pure, so the arithmetic is tested alone."""
    if attempts >= MAX_TRIES:
        return None
    factor: int = 2 ** (max(attempts, 1) - 1)  # typeshed's int ** int is Any
    return min(FIRST_RETRY * factor, RETRY_CAP)


@dataclass(frozen=True)
class Setback:
    attempts: int
    retry_at: datetime | None  # None: marked failed

    @property
    def failed(self) -> bool:
        return self.retry_at is None


def record_failure(
    db: Database,
    practice_id: UUID,
    job: str,
    item_id: UUID,
    error: BaseException,
    *,
    now: datetime,
    final: bool = False,
) -> Setback:
    """Count one more failure of `job` on `item_id`, in its practice's own transaction (the
    one that failed has rolled back). `final` marks it failed at once (a dead letter)."""
    with db.transaction(practice_id) as session:
        insert_ignoring_conflict(
            session,
            WorkFailure,
            {
                "id": uuid4(),
                "practice_id": practice_id,
                "job": job,
                "item_id": item_id,
                "attempts": 0,
                "last_error": "",
                "updated_at": now,
            },
            ["job", "item_id"],
        )
        row = session.exec(
            select(WorkFailure)
            .where(WorkFailure.job == job)
            .where(WorkFailure.item_id == item_id)
            .with_for_update()
        ).one()
        row.attempts += 1
        delay = None if final else retry_after(row.attempts)
        row.retry_at = None if delay is None else now + delay
        row.failed_at = now if delay is None else None
        # The type only: an exception's text can carry row values (addresses, comments).
        row.last_error = type(error).__name__[:200]
        row.updated_at = now
        return Setback(attempts=row.attempts, retry_at=row.retry_at)


def held_back(session: Session, job: str, item_ids: Collection[UUID]) -> dict[UUID, UUID]:
    """Of a finder's batch for `job`, the items being tried again after a failure: item id ->
    its work_failure row's id. Read across practices (the system role reads these columns)."""
    if not item_ids:
        return {}
    rows = session.exec(
        select(WorkFailure.item_id, WorkFailure.id)
        .where(WorkFailure.job == job)
        .where(col(WorkFailure.item_id).in_(item_ids))
        .where(col(WorkFailure.retry_at).is_not(None))
    ).all()
    return dict(rows)


def recover(session: Session, failure_id: UUID, *, now: datetime) -> bool:
    """A held-back item's try went through (it acted, or found nothing left to do): clear its
    row in the try's own transaction, in its practice, so it stops counting as retrying."""
    return claim(
        session,
        WorkFailure,
        failure_id,
        col(WorkFailure.retry_at).is_not(None),
        retry_at=None,
        attempts=0,
        updated_at=now,
    )


def failure_counts(session: Session) -> dict[tuple[str, str], int]:
    """(job, "failed" | "retrying") -> how many items, across practices (the system role
    reads these columns): what an operator checks after an outage."""
    is_failed = col(WorkFailure.failed_at).is_not(None)
    rows = session.exec(
        select(WorkFailure.job, is_failed, func.count())
        # A row an operator retried (shared.work.retry), or whose item's next try went through
        # (recover), is neither until it fails again.
        .where(is_failed | col(WorkFailure.retry_at).is_not(None))
        .group_by(col(WorkFailure.job), is_failed)
    ).all()
    return {(job, "failed" if failed else "retrying"): int(n) for job, failed, n in rows}
