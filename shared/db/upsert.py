from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignoring_conflict(
    session: Session,
    model: type[SQLModel],
    values: Mapping[str, Any],
    conflict_columns: Sequence[str],
) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING on the row's natural key.

    Returns True when this call inserted the row, False when it already existed: the way a
    retried or duplicated message finds out that its work is done.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict_columns))
        # rowcount is not reliable for this statement on every driver; RETURNING is.
        .returning(*table.primary_key.columns)
    )
    return session.execute(statement).first() is not None
