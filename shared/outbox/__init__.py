"""The transactional outbox: work is recorded with the change that causes it, then relayed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from sqlalchemy import FromClause, Insert, Integer, bindparam, insert, update
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Session, col, select

from shared.clock import Clock
from shared.db import Database
from shared.logging import current_request_id, following
from shared.models import OutboxEvent

log = structlog.get_logger("attune.outbox")

# Set in a session's info by emit: whoever committed it has events for the relay.
EMITTED = "outbox_emitted"


def emitted(session: Session) -> bool:
    """Whether this session's transaction recorded any event (so a relay has work)."""
    return bool(session.info.get(EMITTED))


class Publisher(Protocol):
    """Sends one message; the request id bound while it runs (shared.logging) goes with it."""

    def publish(self, actor: str, args: Sequence[object]) -> None: ...


def emit(session: Session, actor: str, practice_id: UUID, *ids: UUID, at: datetime) -> None:
    """Record that `actor` must run for these ids once this transaction commits.

    Messages carry ids only, never objects: the worker reads the current state, and the
    practice id first so the worker can set the tenant before it reads anything. The request id
    of the work at hand goes with it, so the worker logs under the same id.
    """
    session.info[EMITTED] = True
    session.add(OutboxEvent(**_event(actor, practice_id, ids, at)))


async def emit_async(
    connection: AsyncConnection, actor: str, practice_id: UUID, *ids: UUID, at: datetime
) -> None:
    """emit, on a Core connection on the event loop: the same row, in the same transaction."""
    await connection.execute(insert(_TABLE).values(**_event(actor, practice_id, ids, at)))


def emit_after(source: FromClause) -> Insert:
    """emit as part of a larger statement: an INSERT of the event once per row of `source`
    (a CTE that claimed or wrote something), its values bound by event_params at execution.
    It returns each event's id: no row back, no event written (the driver gives no row count
    for a statement whose CTEs return rows)."""
    values = [bindparam(_PARAM + name, type_=_TABLE.c[name].type) for name in _EVENT_COLUMNS]
    chosen = select(*values).select_from(source)
    return insert(_TABLE).from_select(_EVENT_COLUMNS, chosen).returning(_TABLE.c.id)


def event_params(actor: str, practice_id: UUID, *ids: UUID, at: datetime) -> dict[str, Any]:
    """The parameters of an emit_after statement."""
    return {_PARAM + k: v for k, v in _event(actor, practice_id, ids, at).items()}


_TABLE = OutboxEvent.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = ["practice_id", "actor", "args", "created_at", "request_id"]
_PARAM = "outbox_"


def _event(actor: str, practice_id: UUID, ids: Sequence[UUID], at: datetime) -> dict[str, Any]:
    return {
        "practice_id": practice_id,
        "actor": actor,
        "args": [str(practice_id), *(str(i) for i in ids)],
        "created_at": at,
        "request_id": current_request_id(),
    }


# The channel a committed outbox event notifies on PostgreSQL (migration 0015's trigger):
# the workers' relays listen on it (services/worker/relay.py).
CHANNEL = "attune_outbox"

# Claims a batch and stamps it in one statement, and hands back what to publish. SKIP LOCKED:
# several relays (every worker's, the scheduler's sweep) pass each other by instead of
# queueing on each other's rows. In the order of ix_outbox_unpublished (published_at, id):
# ordered by id alone, PostgreSQL walked every published row ahead of the first unpublished
# one. SQLite ignores FOR UPDATE; its one writer at a time does the same job.
_UNPUBLISHED = (
    sa_select(_TABLE.c.id)
    .where(_TABLE.c.published_at.is_(None))
    .order_by(_TABLE.c.published_at, _TABLE.c.id)
    .limit(bindparam("batch", type_=Integer))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(_UNPUBLISHED.scalar_subquery()))
    .values(published_at=bindparam("stamped_at", type_=_TABLE.c.published_at.type))
    .returning(
        _TABLE.c.id, _TABLE.c.actor, _TABLE.c.args, _TABLE.c.practice_id, _TABLE.c.request_id
    )
)


def relay(db: Database, publisher: Publisher, clock: Clock, *, batch: int = 500) -> int:
    """Publish what is not yet published; returns how many went out.

    One statement claims a batch and stamps it published; the messages go to the broker
    inside that same transaction, which commits only once they all went. If the broker fails
    halfway, the transaction rolls back and the rows go out again next time: a message may be
    delivered twice, never lost, and every actor is idempotent. The rows carry only actor
    names and ids, which is why the relay may read them across practices.
    """
    published = 0
    while True:
        with db.across_practices() as session:
            claimed = session.execute(_CLAIM, {"batch": batch, "stamped_at": clock.now()})
            # RETURNING keeps no order; publishing in the order written is easier to follow.
            rows = sorted(claimed, key=lambda row: row[0])
            for event_id, actor, args, practice_id, request_id in rows:
                with following(request_id):
                    publisher.publish(actor, args)
                    log.info(
                        "outbox.published",
                        actor=actor,
                        event_id=event_id,
                        practice_id=str(practice_id),
                    )
            published += len(rows)
        if len(rows) < batch:
            return published


def unpublished_count(db: Database) -> int:
    with db.across_practices() as session:
        return len(
            session.exec(
                select(OutboxEvent.id).where(col(OutboxEvent.published_at).is_(None))
            ).all()
        )
