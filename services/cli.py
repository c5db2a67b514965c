"""`attune`: one command for every process.

attune db upgrade | db downgrade [REV]   schema migrations
attune db copy --to URL                  move a stopped `attune serve` database to PostgreSQL
attune api                               the HTTP API
attune worker                            dramatiq workers (production mode, Redis)
attune scheduler                         the scheduler tick (due invitations, nudges, retries)
attune serve                             all of it in one process on a SQLite file, for real
attune backup PATH | restore PATH        copy the SQLite file while serving; put a copy back
attune practice create                   a practice and its owner, from the shell
attune demo                              the embedded mode with a seeded demo practice
attune keys rotate-comments              re-encrypt clients' comments with the newest key
attune work-failures [--retry JOB [--item ID]]
                                         count due work and messages that failed, by job;
                                         clear them so the work is done again
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from services.ops_http import SCHEDULER_PORT, WORKER_PORT, OpsServer
from shared.logging import configure_logging
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from services.bootstrap import Stack


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attune", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="schema migrations")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="migrate to the newest schema")
    down = db_commands.add_parser("downgrade", help="migrate back (to base by default)")
    down.add_argument("revision", nargs="?", default="base")
    copy = db_commands.add_parser(
        "copy", help="copy the stopped SQLite database (ATTUNE_DATABASE_URL) into PostgreSQL"
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="the new database's owner, postgresql+psycopg://owner:pass@host:5432/attune",
    )

    keys = commands.add_parser("keys", help="encryption keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser(
        "rotate-comments",
        help="re-encrypt every comment with the first key of ATTUNE_COMMENT_KEYS",
    )

    failures = commands.add_parser(
        "work-failures",
        help="count failed due work and dead-lettered messages, by job (held back or failed)",
    )
    failures.add_argument(
        "--retry",
        metavar="JOB",
        help="clear JOB's failed and held-back items so the scheduler offers them again "
        "(a dead letter, message:<actor>, is published again if its item still needs it)",
    )
    failures.add_argument("--item", metavar="ID", help="only this item (with --retry)")

    api = commands.add_parser("api", help="serve the HTTP API")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument(
        "--trusted-proxies",
        metavar="ADDRESSES",
        help="reverse proxies whose X-Forwarded-For is believed (addresses or networks, "
        "comma-separated; default ATTUNE_TRUSTED_PROXIES, none)",
    )

    worker = commands.add_parser("worker", help="run dramatiq workers on the Redis broker")
    worker.add_argument("--threads", type=int, default=4)
    _ops_arguments(worker, WORKER_PORT)

    scheduler = commands.add_parser("scheduler", help="run the scheduler tick")
    _ops_arguments(scheduler, SCHEDULER_PORT)

    serve = commands.add_parser(
        "serve", help="run everything in one process on the SQLite file ATTUNE_DATABASE_URL"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--threads", type=int, default=2, help="worker threads")

    backup = commands.add_parser("backup", help="write a consistent copy, also while serving")
    backup.add_argument("path", help="a file, or a directory to put a dated file in")
    restore = commands.add_parser("restore", help="put a backup back (attune serve stopped)")
    restore.add_argument("path")

    practice = commands.add_parser("practice", help="practices")
    practice_commands = practice.add_subparsers(dest="practice_command", required=True)
    create = practice_commands.add_parser(
        "create",
        help="create a practice and its owner; the password is asked for, or read from stdin",
    )
    create.add_argument("--name", required=True, help="the practice's name")
    create.add_argument("--owner-name", required=True)
    create.add_argument("--owner-email", required=True)
    create.add_argument("--timezone", default="UTC", help="IANA zone, e.g. Europe/London")

    demo = commands.add_parser("demo", help="run everything embedded, with a demo practice")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--smtp-port", type=int, default=1025)
    return parser


def _ops_arguments(command: argparse.ArgumentParser, port: int) -> None:
    command.add_argument(
        "--ops-host",
        default="127.0.0.1",
        help="address of the operations port (0.0.0.0 for a Prometheus in another container)",
    )
    command.add_argument(
        "--ops-port",
        type=int,
        default=port,
        help=f"serves /health/live, /health/ready and /metrics (default {port}; 0: none)",
    )


def _serve_ops(stack: Stack, args: argparse.Namespace) -> OpsServer | None:
    if not args.ops_port:
        return None
    health = stack.health()
    try:
        server = OpsServer(
            live=health.live, ready=health.ready, host=args.ops_host, port=args.ops_port
        )
    except OSError as taken:
        stack.stop()
        raise SystemExit(
            f"attune {args.command}: cannot listen on {args.ops_host}:{args.ops_port} "
            f"({taken.strerror}); choose another --ops-port, or 0 for none"
        ) from None
    return server.start()


def _require_production(settings: Settings, command: str) -> None:
    if settings.embedded:
        sys.exit(
            f"attune {command} runs beside other processes and needs ATTUNE_REDIS_URL; "
            "for a single process with everything in it, use `attune serve` "
            "(or `attune demo` for a look around)."
        )
    problems = settings.production_problems()
    if problems:
        sys.exit(
            f"attune {command} will not start in production mode with these settings:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def _work_failures(args: argparse.Namespace, settings: Settings) -> None:
    from uuid import UUID

    from shared.clock import SystemClock
    from shared.db import create_database
    from shared.work.failures import failure_counts
    from shared.work.retry import UnknownWork, retry_failed

    if args.item is not None and args.retry is None:
        sys.exit("attune work-failures: --item needs --retry JOB")
    try:
        item_id = None if args.item is None else UUID(args.item)
    except ValueError:
        sys.exit(f"attune work-failures: --item {args.item!r} is not an item id (a UUID)")
    db = create_database(settings.database_url, system_url=settings.system_database_url)
    try:
        if args.retry is not None:
            try:
                done = retry_failed(
                    db,
                    args.retry,
                    item_id=item_id,
                    known_jobs=known_jobs(),
                    now=SystemClock().now(),
                )
            except UnknownWork as unknown:
                sys.exit(f"attune work-failures: {unknown}")
            print(
                f"{args.retry}: {done.cleared} cleared ({done.republished} published again), "
                f"{done.already} already retried"
            )
            return
        with db.across_practices() as session:
            counts = failure_counts(session)
    finally:
        db.dispose()
    for (job, state), count in sorted(counts.items()):
        print(f"{job}\t{state}\t{count}")
    if not counts:
        print("no failed work")


def known_jobs() -> set[str]:
    """Every name work can fail under: the scheduler's jobs, and each actor's dead letters."""
    from datetime import UTC, datetime

    from services.worker.actors import ACTORS
    from services.worker.scheduler import jobs

    return {job.name for job in jobs(datetime.now(UTC))} | {f"message:{a}" for a in ACTORS}


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)

    if args.command in ("serve", "backup", "restore", "practice") or (
        args.command == "db" and args.db_command == "copy"
    ):
        from services.embedded import run_embedded_command

        run_embedded_command(args, settings)
        return

    if args.command == "db":
        from shared.db import migrations

        # As the owner: the application's own role may not change the schema.
        owner_url = settings.migration_database_url or settings.database_url
        if args.db_command == "upgrade":
            migrations.upgrade(owner_url)
        else:
            migrations.downgrade(owner_url, args.revision)
        return

    if args.command == "keys":
        from shared.db import create_database
        from shared.privacy.encryption import CommentKeyring
        from shared.privacy.rotation import rotate_comments

        db = create_database(settings.database_url, system_url=settings.system_database_url)
        moved = rotate_comments(db, CommentKeyring.from_settings(settings))
        db.dispose()
        print(f"{moved} comments re-encrypted with the newest key")
        return

    if args.command == "work-failures":
        _work_failures(args, settings)
        return

    if args.command == "demo":
        from services.demo import run_demo

        run_demo(settings, port=args.port, smtp_port=args.smtp_port)
        return

    from services.bootstrap import (
        build_stack,
        freeze_startup_heap,
        smtp_mailer,
        wait_for_signal,
    )

    if args.command == "api" and args.trusted_proxies is not None:
        try:
            settings = Settings.model_validate(
                {**settings.model_dump(), "trusted_proxies": args.trusted_proxies}
            )
        except ValueError as wrong:
            sys.exit(f"attune api --trusted-proxies: {wrong}")
    _require_production(settings, args.command)
    stack = build_stack(settings)
    try:
        stack.db.check_cross_practice_reach()
    except RuntimeError as misconfigured:
        raise SystemExit(f"attune {args.command}: {misconfigured}") from None
    if args.command == "api":
        import uvicorn

        stack.start_relay_for("api")
        app = stack.api()
        freeze_startup_heap()
        # The client's address is worked out by the app from ATTUNE_TRUSTED_PROXIES
        # (services/api/rate_limit.py), so uvicorn must not rewrite it first.
        uvicorn.run(app, host=args.host, port=args.port, access_log=False, proxy_headers=False)
    ops = None
    if args.command == "worker":
        stack.start_workers(smtp_mailer(settings), threads=args.threads)
        stack.start_relay_for("worker")
        ops = _serve_ops(stack, args)
        wait_for_signal()
    elif args.command == "scheduler":
        stack.start_scheduler()
        ops = _serve_ops(stack, args)
        wait_for_signal()
    stack.stop()
    if ops is not None:
        ops.stop()


if __name__ == "__main__":
    main()
