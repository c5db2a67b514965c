"""The due-work finder: every scheduler find goes through `find_due`.

It runs across practices (Database.across_practices) and returns (practice id, row id) pairs,
oldest due first with the id as tie-break, so a batch always moves forward and nothing waits
behind newer work. Rows whose work failed recently (shared.work.failures) are left out until
their retry time, and for good once marked failed, so a poisoned row is never first again. On
PostgreSQL the rows are locked with SKIP LOCKED, so a find passes by a claim in progress
instead of waiting for it.

Those row locks end with the find's transaction, before any item is acted on, so they do not
keep two scheduler replicas apart: `job_turn` does. A scheduler runs a job (its find and every
act) only inside its turn at that job, a transaction-scoped advisory lock held on a connection
of its own until the job's last act is done; a second scheduler that asks while the first
holds it is told no and skips the job for that tick. Without it both found the same batch and
each tried every item (the conditional claims kept the work itself to once, but the finding and
the trying were doubled). A scheduler that dies mid-job loses its connection, and the lock with
it. SQLite has one process (shared.embedded.lock), so every turn is given.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import ColumnElement, and_, or_, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from shared.db.engine import Database
from shared.models import WorkFailure

log = structlog.get_logger("attune.scheduler")

# The advisory lock's two keys: this module's own space ("ATTU"), then the job's name as a
# 32-bit checksum (the same in every process, unlike Python's hash()).
_TURNS = 0x41545455
TAKE_TURN = text("SELECT pg_try_advisory_xact_lock(:space, :job)")


def _job_key(job: str) -> int:
    key = zlib.crc32(job.encode())
    return key - 2**32 if key >= 2**31 else key  # PostgreSQL's int4 is signed


@contextmanager
def job_turn(db: Database, job: str) -> Iterator[bool]:
    """Whether this scheduler has `job` to itself until the block ends: False while another
    scheduler holds it (skip the job this tick). Entering raises when the database is away;
    a failure to let go afterwards (the connection lost with the lock) is only logged: the
    block's work is committed in transactions of its own."""
    if db.dialect != "postgresql":
        yield True
        return
    done = False
    try:
        with db.across_practices() as session:
            yield bool(session.execute(TAKE_TURN, {"space": _TURNS, "job": _job_key(job)}).scalar())
            done = True
    except SQLAlchemyError:
        if not done:
            raise
        log.warning("scheduler.turn_lost", job=job)


def find_due(
    session: Session,
    job: str,
    model: type[SQLModel],
    *conditions: ColumnElement[bool],
    due: Any,
    now: datetime,
    limit: int,
) -> list[tuple[UUID, UUID]]:
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = table.primary_key.columns
    # Selects one granted column: the system role may not read the whole row (SELECT *).
    held_back = (
        select(WorkFailure.id)
        .where(
            and_(
                col(WorkFailure.job) == job,
                col(WorkFailure.item_id) == key,
                or_(col(WorkFailure.failed_at).is_not(None), col(WorkFailure.retry_at) > now),
            )
        )
        .exists()
    )
    query = (
        select(table.c.practice_id, key)
        .where(*conditions)
        .where(~held_back)
        .order_by(due, key)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=table)
    return [(practice_id, item_id) for practice_id, item_id in session.exec(query).all()]
