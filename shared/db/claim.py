"""The conditional claim: how every piece of work is taken exactly once."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Update, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)


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


def claim_row(
    session: Session,
    model: type[Row],
    row_id: UUID,
    *still: ColumnElement[bool],
    **values: Any,
) -> Row | None:
    """`claim`, for a caller that goes on to read the row: the same UPDATE ... WHERE hands it
    back as the claim left it (RETURNING), so taking it costs no SELECT. None if this call did
    not take it."""
    table = model.__table__  # type: ignore[attr-defined]
    statement = _where(update(model), table, row_id, still, values).returning(model)
    taken = session.execute(
        statement,
        # The returned row is the truth; an object of it already in the session is refreshed.
        execution_options={"synchronize_session": False, "populate_existing": True},
    )
    return taken.scalars().one_or_none()


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
