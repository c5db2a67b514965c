"""The conditional claim: how every piece of work is taken exactly once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Update, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Session, SQLModel


def claiming(
    model: type[SQLModel], row_id: Any, *still: ColumnElement[bool], **values: Any
) -> Update:
    """The claim as a statement, for a caller that builds on it (a CTE whose later parts run
    only for the row it took); `row_id` may be a bindparam."""
    table = model.__table__  # type: ignore[attr-defined]
    return _where(update(table), table, row_id, still, values)


def claim(
    session: Session,
    model: type[SQLModel],
    row_id: UUID,
    *still: ColumnElement[bool],
    **values: Any,
) -> bool:
    """Set `values` on one row only while it still matches `still` (its status, a due time):
    one UPDATE ... WHERE, so of two workers, two schedulers or a redelivered message only one
    gets rowcount 1. True if this call took the row; its caller does the work only then."""
    return session.exec(claiming(model, row_id, *still, **values)).rowcount == 1


async def claim_async(
    connection: AsyncConnection,
    model: type[SQLModel],
    row_id: UUID,
    *still: ColumnElement[bool],
    **values: Any,
) -> bool:
    """claim, on a Core connection on the event loop: the same single UPDATE ... WHERE."""
    return (await connection.execute(claiming(model, row_id, *still, **values))).rowcount == 1


def _where(
    statement: Update,
    table: Any,
    row_id: Any,
    still: tuple[ColumnElement[bool], ...],
    values: dict[str, Any],
) -> Update:
    (key,) = table.primary_key.columns
    return statement.where(key == row_id).where(*still).values(**values)
