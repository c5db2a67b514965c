"""Backups of a running instance with SQLite's online backup API, and putting one back.

The backup copies every page in one step, inside one read transaction: in WAL mode that
transaction sees the database as of its start (every commit before it, none after) and does
not block the server's writers. The copy is written beside the destination and renamed into
place only after `PRAGMA integrity_check` passes on it, so a half-written file never carries
the backup's name.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shared.embedded.lock import InstanceLock
from shared.errors import Invalid


@dataclass(frozen=True)
class BackupReport:
    path: Path
    size_bytes: int
    schema_revision: str


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(uri, uri=True, timeout=30)
    connection.execute("PRAGMA busy_timeout=30000")
    return connection


def check_copy(path: Path) -> str:
    """The copy's schema revision, after checking it is whole and is an Attune database."""
    if not path.is_file():
        raise Invalid(f"{path} is not a file.")
    try:
        connection = _connect(path, read_only=True)
    except sqlite3.DatabaseError as error:
        raise Invalid(f"{path} cannot be opened as a database ({error}).") from None
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise Invalid(f"{path} fails SQLite's integrity check: {'; '.join(problems[:3])}")
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as error:
        raise Invalid(f"{path} is not an Attune database ({error}).") from None
    finally:
        connection.close()
    if revision is None:
        raise Invalid(f"{path} is not an Attune database (no schema version).")
    return str(revision[0])


def _copy(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    reading = _connect(source, read_only=True)
    writing = sqlite3.connect(partial)
    try:
        reading.backup(writing)  # pages=-1: all at once, one consistent snapshot
        # The pages carry the source's WAL mode; a backup is one self-contained file, with no
        # -wal and -shm beside it (serve switches WAL on again when it opens the file).
        writing.execute("PRAGMA journal_mode=DELETE")
    finally:
        writing.close()
        reading.close()
    try:
        check_copy(partial)
    except Invalid:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)


def back_up(database: Path, target: Path) -> BackupReport:
    """Write a consistent copy of `database` to `target` while the server may be running."""
    if not database.is_file():
        raise Invalid(f"there is no database at {database} to back up.")
    if target.exists() and target.is_dir():
        target = target / f"attune-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.db"
    if target.resolve() == database.resolve():
        raise Invalid("a backup cannot overwrite the database it copies.")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(database, target)
    return BackupReport(target, target.stat().st_size, check_copy(target))


def restore(backup: Path, database: Path) -> Path | None:
    """Put `backup` in place of `database`; refuses while anything holds the instance lock.

    The database it replaces is kept beside it as `<name>.before-restore-<time>` (returned),
    because a restore that picked the wrong file must be undoable.
    """
    check_copy(backup)
    with InstanceLock(database, purpose="attune restore"):
        kept: Path | None = None
        if database.exists():
            kept = database.with_name(
                f"{database.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
            )
            _copy(database, kept)
        database.parent.mkdir(parents=True, exist_ok=True)
        staged = database.with_name(f".{database.name}.restoring-{os.getpid()}")
        _copy(backup, staged)
        # The old file's write-ahead log belongs to the old file: left beside the new one,
        # SQLite would replay it into the restored pages.
        for suffix in ("-wal", "-shm"):
            database.with_name(database.name + suffix).unlink(missing_ok=True)
        os.replace(staged, database)
        return kept
