"""The conditional claim: how every piece of work is taken exactly once."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, SQLModel


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
    table = model.__table__  # type: ignore[attr-defined]
    (key,) = table.primary_key.columns
    statement = update(table).where(key == row_id).where(*still).values(**values)
    return session.exec(statement).rowcount == 1
