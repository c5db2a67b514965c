"""The shell side of an embedded instance: serve it, create a practice in it, back it up,
restore it, and move it to PostgreSQL. Each command prints what it did, or exits non-zero
with a sentence saying what is wrong."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from uuid import uuid4

from pydantic import ValidationError

from shared.embedded.lock import InstanceLock, sqlite_path
from shared.errors import DomainError
from shared.settings import Settings


def run_embedded_command(args: argparse.Namespace, settings: Settings) -> None:
    try:
        if args.command == "serve":
            from services.serve import run_serve

            run_serve(settings, host=args.host, port=args.port, threads=args.threads)
        elif args.command == "backup":
            _backup(settings, Path(args.path))
        elif args.command == "restore":
            _restore(settings, Path(args.path))
        elif args.command == "practice":
            _create_practice(args, settings)
        else:
            _copy(settings, args.to)
    except DomainError as wrong:
        sys.exit(f"attune {args.command}: {wrong.message}")
    except ValueError as wrong:
        sys.exit(f"attune {args.command}: {wrong}")


def _backup(settings: Settings, target: Path) -> None:
    from shared.embedded.backup import back_up

    report = back_up(sqlite_path(settings.database_url), target)
    print(
        f"backed up to {report.path} ({report.size_bytes:,} bytes, schema "
        f"{report.schema_revision}, integrity check ok)"
    )


def _restore(settings: Settings, backup: Path) -> None:
    from shared.embedded.backup import restore

    database = sqlite_path(settings.database_url)
    kept = restore(backup, database)
    print(f"restored {backup} to {database}")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Owner's password (10 characters or more): ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ.")
        return first
    return sys.stdin.readline().rstrip("\n")


def _create_practice(args: argparse.Namespace, settings: Settings) -> None:
    from services.api.routes.practices import SignUp
    from shared.clock import SystemClock
    from shared.db import create_database
    from shared.practice.service import sign_up

    try:
        details = SignUp(
            practice_name=args.name,
            owner_name=args.owner_name,
            owner_email=args.owner_email,
            password=_read_password(),
            timezone=args.timezone,
        )
    except ValidationError as invalid:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'input'}: {error['msg']}"
            for error in invalid.errors()
        )
        raise ValueError(problems.replace("practice_name", "--name")) from None
    if settings.is_sqlite:
        from shared.db.migrations import upgrade

        upgrade(settings.database_url)
    db = create_database(settings.database_url, system_url=settings.system_database_url)
    practice_id = uuid4()
    try:
        with db.transaction(practice_id) as session:
            sign_up(
                session,
                practice_id=practice_id,
                practice_name=details.practice_name,
                owner_email=details.owner_email,
                owner_name=details.owner_name,
                password=details.password,
                timezone=details.timezone,
                now=SystemClock().now(),
            )
    finally:
        db.dispose()
    print(f"created practice {practice_id}; its owner can sign in now")


def _copy(settings: Settings, target_url: str) -> None:
    from shared.db.copy import copy_database

    database = sqlite_path(settings.database_url)
    if not database.is_file():
        raise ValueError(f"there is no database at {database} to copy.")
    with InstanceLock(database, purpose="attune db copy"):
        report = copy_database(settings.database_url, target_url)
    width = max(len(table.table) for table in report)
    print(f"{'table'.ljust(width)}  {'rows':>8}  checksum (sha256, same on both sides)")
    for table in report:
        print(f"{table.table.ljust(width)}  {table.rows:>8}  {table.checksum}")
    print(
        f"copied {sum(t.rows for t in report):,} rows in {len(report)} tables; counts and "
        "checksums match. Row-level security is in force."
    )
