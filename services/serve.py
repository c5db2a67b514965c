"""`attune serve`: the whole of Attune in one process, on one SQLite file, for real.

The same parts as production, wired in one process (services.bootstrap.Stack): the API and
pages, the outbox relay, dramatiq's in-process broker with its workers, the scheduler thread,
and the SMTP relay named by the ATTUNE_SMTP_* settings. Nothing is seeded. The file is held
by an instance lock for the life of the process; on start the schema is migrated and what
the previous run left unfinished is picked up again (shared.embedded.restart).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType

import structlog
import uvicorn

from services.bootstrap import build_stack, smtp_mailer
from shared.embedded.lock import InstanceLock, sqlite_path
from shared.embedded.restart import recover
from shared.errors import Conflict
from shared.logging import configure_logging
from shared.settings import DEFAULT_SECRET_KEY, Settings

log = structlog.get_logger("attune.serve")
# On a clean stop the in-memory queue gets this long to empty; whatever is left is picked up
# again at the next start, as after a crash.
DRAIN_SECONDS = 20


def refusal(settings: Settings) -> str | None:
    """Why these settings cannot run `attune serve`, in words that say what to change."""
    if settings.redis_url:
        return (
            "attune serve runs everything in one process without Redis; unset ATTUNE_REDIS_URL, "
            "or run attune api, attune worker and attune scheduler for the production mode."
        )
    try:
        sqlite_path(settings.database_url)
    except ValueError as wrong:
        return f"attune serve: {wrong}; set ATTUNE_DATABASE_URL (default sqlite:///var/attune.db)."
    if settings.secret_key == DEFAULT_SECRET_KEY:
        return (
            "attune serve: ATTUNE_SECRET_KEY is the development default. Set it to a long random "
            "value and keep it: sign-ins and clients' comments depend on it "
            '(python -c "import secrets; print(secrets.token_urlsafe(48))").'
        )
    return None


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_serve(settings: Settings, *, host: str, port: int, threads: int) -> None:
    reason = refusal(settings)
    if reason:
        sys.exit(reason)
    database = sqlite_path(settings.database_url)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    lock = InstanceLock(database, purpose="attune serve")
    try:
        lock.acquire()
    except Conflict as busy:
        sys.exit(f"attune serve: {busy.message}")
    try:
        from shared.db.migrations import upgrade  # imported here: alembic logs as it loads

        upgrade(settings.database_url)
        stack = build_stack(settings)
        recovered = recover(stack.db, stack.publisher, now=stack.clock.now())
        stack.start_workers(smtp_mailer(settings), threads=threads)
        stack.start_scheduler()
        stack.start_relay()
        app = stack.api()
        # After creating the app: Litestar points the root logger at its own handler then.
        configure_logging(settings.log_level)
        log.info(
            "serve.started",
            database=str(Path(database).resolve()),
            port=port,
            claims_released=recovered.claims_released,
            emails_due_now=recovered.emails_due_now,
            events_replayed=recovered.events_replayed,
        )
        try:
            # uvicorn stops taking requests on SIGINT or SIGTERM, then raises the signal again
            # for the handler it found: ours, so that the workers drain before the exit.
            uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop(drain_seconds=DRAIN_SECONDS)
            log.info("serve.stopped")
    finally:
        lock.release()
