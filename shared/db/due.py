"""The due-work finder: every scheduler find goes through `find_due`.

It runs across practices (Database.across_practices) and returns (practice id, row id) pairs,
oldest due first with the id as tie-break, so a batch always moves forward and nothing waits
behind newer work. Rows whose work failed recently (shared.work.failures) are left out until
their retry time, and for good once marked failed, so a poisoned row is never first again. On
PostgreSQL the rows are locked with SKIP LOCKED, so two scheduler replicas, or a find beside a
claim in progress, pass each other by instead of waiting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import Session, SQLModel, col, select

from shared.models import WorkFailure


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
