"""The transactional outbox: work is recorded with the change that causes it, then relayed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import structlog
from sqlmodel import Session, col, select

from shared.clock import Clock
from shared.db import Database
from shared.logging import current_request_id, following
from shared.models import OutboxEvent

log = structlog.get_logger("attune.outbox")


class Publisher(Protocol):
    """Sends one message; the request id bound while it runs (shared.logging) goes with it."""

    def publish(self, actor: str, args: Sequence[object]) -> None: ...


def emit(session: Session, actor: str, practice_id: UUID, *ids: UUID, at: datetime) -> None:
    """Record that `actor` must run for these ids once this transaction commits.

    Messages carry ids only, never objects: the worker reads the current state, and the
    practice id first so the worker can set the tenant before it reads anything. The request id
    of the work at hand goes with it, so the worker logs under the same id.
    """
    session.add(
        OutboxEvent(
            practice_id=practice_id,
            actor=actor,
            args=[str(practice_id), *(str(i) for i in ids)],
            created_at=at,
            request_id=current_request_id(),
        )
    )


def relay(db: Database, publisher: Publisher, clock: Clock, *, batch: int = 500) -> int:
    """Publish what is not yet published; returns how many went out.

    Rows are locked with SKIP LOCKED so several relays never block each other. If the broker
    fails halfway, the transaction rolls back and the rows go out again next time: a message
    may be delivered twice, never lost, and every actor is idempotent. The rows carry only
    actor names and ids, which is why the relay may read them across practices.
    """
    published = 0
    while True:
        with db.across_practices() as session:
            rows = session.exec(
                select(OutboxEvent)
                .where(col(OutboxEvent.published_at).is_(None))
                .order_by(col(OutboxEvent.id))
                .limit(batch)
                .with_for_update(skip_locked=True)
            ).all()
            now = clock.now()
            for row in rows:
                with following(row.request_id):
                    publisher.publish(row.actor, row.args)
                    log.info(
                        "outbox.published",
                        actor=row.actor,
                        event_id=row.id,
                        practice_id=str(row.practice_id),
                    )
                row.published_at = now
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
