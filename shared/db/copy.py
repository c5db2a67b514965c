"""`attune db copy`: move a stopped embedded instance into a freshly migrated PostgreSQL
database, unchanged, and prove it.

Rows go through the models' own column types (SQLite's text UUIDs and naive UTC times come
out as Python values and go into PostgreSQL's uuid and timestamptz), so ids, settings
versions and token hashes arrive as they were. Encrypted columns are the exception: their
type would decrypt on the way out and encrypt afresh on the way in (a new Fernet token for
the same comment), so they move as the stored ciphertext, and the copy needs no key.

Everything happens in one PostgreSQL transaction. Inside it the owner lifts FORCE ROW
LEVEL SECURITY from the tables that have it (the owner must see and write every practice's
rows), copies, puts FORCE back, and then reads every table back and compares its row count
and a checksum over every value with the source's; any difference rolls the whole copy
back, FORCE included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Table,
    create_engine,
    func,
    inspect,
    select,
    text,
)
from sqlmodel import SQLModel

import shared.models  # noqa: F401  (every table on the metadata)
from shared.db.migrations import upgrade
from shared.errors import Conflict, Invalid
from shared.privacy.encryption import EncryptedText

BATCH = 1000


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


def tables() -> list[Table]:
    """Every table, parents before children."""
    return list(SQLModel.metadata.sorted_tables)


def stored_form(table: Table) -> Table:
    """`table` with each encrypted column as the text it is stored as."""
    columns = [
        Column(
            column.name,
            column.type.impl_instance if isinstance(column.type, EncryptedText) else column.type,
            primary_key=column.primary_key,
            autoincrement=False,
        )
        for column in table.columns
    ]
    return Table(table.name, MetaData(), *columns)


def _canonical(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return repr(value)


def _rows(connection: Connection, table: Table) -> Iterator[list[Any]]:
    table = stored_form(table)
    query = select(table).order_by(*table.primary_key.columns)
    for batch in connection.execute(query).partitions(BATCH):
        for row in batch:
            yield list(row)


def table_checksum(connection: Connection, table: Table) -> TableCopy:
    """Rows in primary-key order, every value in a form both databases give back alike."""
    digest = hashlib.sha256()
    count = 0
    for row in _rows(connection, table):
        digest.update("\x1f".join(_canonical(value) for value in row).encode())
        digest.update(b"\x1e")
        count += 1
    return TableCopy(table.name, count, digest.hexdigest())


def _revision(connection: Connection) -> str | None:
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _forced_tables(connection: Connection) -> list[str]:
    return list(
        connection.execute(
            text(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relforcerowsecurity "
                "AND relnamespace = 'public'::regnamespace ORDER BY relname"
            )
        ).scalars()
    )


def _check_empty(connection: Connection) -> None:
    holding = [
        table.name
        for table in tables()
        if connection.execute(select(func.count()).select_from(table)).scalar()
    ]
    if holding:
        raise Conflict(
            "the target database already holds data (in "
            + ", ".join(holding[:5])
            + "); copy into a new, empty database."
        )


def _reset_sequences(connection: Connection) -> None:
    """Ids were copied as they were; the next one PostgreSQL hands out must follow them."""
    for table in tables():
        for column in table.primary_key.columns:
            if not isinstance(column.type, Integer):
                continue
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": table.name, "column": column.name},
            ).scalar()
            if sequence:
                connection.execute(
                    text(
                        f"SELECT setval(:sequence, COALESCE((SELECT max({column.name}) FROM "
                        f"{table.name}), 0) + 1, false)"
                    ),
                    {"sequence": sequence},
                )


def copy_database(source_url: str, target_url: str) -> list[TableCopy]:
    """Copy every table of the SQLite database at `source_url` into the PostgreSQL database
    at `target_url` (its owner's URL), which is migrated first and must hold no rows.
    Returns each table's row count and checksum, equal on both sides."""
    if not target_url.startswith("postgresql"):
        raise Invalid("the copy goes to PostgreSQL: --to postgresql+psycopg://owner@host/db")
    upgrade(source_url)
    upgrade(target_url)
    source = create_engine(source_url)
    target = create_engine(target_url)
    try:
        with source.connect() as reading, target.begin() as writing:
            source_revision, target_revision = _revision(reading), _revision(writing)
            if source_revision != target_revision:
                raise Conflict(
                    f"schema versions differ (SQLite {source_revision}, PostgreSQL "
                    f"{target_revision}): run the same release of Attune on both."
                )
            missing = {t.name for t in tables()} - set(inspect(writing).get_table_names())
            if missing:
                raise Conflict(f"the target lacks tables: {', '.join(sorted(missing))}")
            _check_empty(writing)
            forced = _forced_tables(writing)
            for name in forced:
                writing.execute(text(f'ALTER TABLE "{name}" NO FORCE ROW LEVEL SECURITY'))
            for table in tables():
                batch: list[dict[str, Any]] = []
                for row in _rows(reading, table):
                    batch.append(dict(zip(table.columns.keys(), row, strict=True)))
                    if len(batch) == BATCH:
                        writing.execute(stored_form(table).insert(), batch)
                        batch = []
                if batch:
                    writing.execute(stored_form(table).insert(), batch)
            _reset_sequences(writing)
            report = []
            for table in tables():
                copied, expected = table_checksum(writing, table), table_checksum(reading, table)
                if copied != expected:
                    raise Conflict(
                        f"{table.name}: {expected.rows} rows with checksum "
                        f"{expected.checksum[:12]} in SQLite, {copied.rows} rows with checksum "
                        f"{copied.checksum[:12]} in PostgreSQL; nothing was copied."
                    )
                report.append(copied)
            for name in forced:
                writing.execute(text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))
            if _forced_tables(writing) != forced:
                raise Conflict("row-level security could not be put back; nothing was copied.")
    finally:
        source.dispose()
        target.dispose()
    return report
