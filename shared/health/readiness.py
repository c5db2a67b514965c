"""Whether a process can do its job now: its database answers (as every role it connects
as), the schema is the one its code was written for, and, in the production mode, Redis
answers. The rules are pure functions of what the probes found; `Readiness` runs the probes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy import text

from shared.db import Database
from shared.health.deadline import Deadline, NoAnswer
from shared.health.report import Check, Report

# Below the 5 s a docker-compose healthcheck waits, so a dead dependency shows as a 503
# naming it rather than as a probe that timed out without saying why.
TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class SchemaHistory:
    """What the code knows of the migrations (shared.db.migrations.history)."""

    heads: frozenset[str]
    known: frozenset[str]


def schema_check(found: frozenset[str] | None, history: SchemaHistory) -> Check:
    """`found`: the revisions the database records; None when they cannot be read (no
    alembic_version table, or one the role may not read: a schema from before the health
    checks, behind head all the same)."""
    upgrade = "run attune db upgrade"
    if found is None or not found:
        return Check("schema", False, f"no schema version recorded ({upgrade})")
    if found == history.heads:
        return Check("schema", True)
    if found - history.known:
        # Migrated by a newer release while this one still runs (a rolling upgrade): its
        # migrations keep older code working, so this process still serves; it says so.
        return Check("schema", True, f"at {_listed(found)}, newer than this code")
    return Check(
        "schema",
        False,
        f"at {_listed(found)}, this code needs {_listed(history.heads)} ({upgrade})",
    )


def unreachable(name: str, error: BaseException) -> Check:
    """The exception's class, never its message: that names hosts, ports and users."""
    if isinstance(error, NoAnswer):
        return Check(name, False, f"no answer within {TIMEOUT_SECONDS:g} s")
    return Check(name, False, f"unreachable ({type(error).__name__})")


def _listed(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions))


class Readiness:
    """One per process: it keeps a Redis client and the probes' threads between answers."""

    def __init__(
        self,
        db: Database,
        *,
        redis_url: str | None,
        history: SchemaHistory,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self._db = db
        self._history = history
        self._deadline = Deadline(timeout)
        self._redis = (
            redis.Redis.from_url(
                redis_url, socket_timeout=timeout / 2, socket_connect_timeout=timeout / 2
            )
            if redis_url
            else None
        )

    def report(self) -> Report:
        probes: dict[str, Callable[[], object]] = {"database": self._probe_database}
        if self._redis is not None:
            probes["redis"] = self._redis.ping
        found = self._deadline.gather(probes)
        checks: list[Check] = []
        database = found["database"]
        if isinstance(database, BaseException):
            checks.append(unreachable("database", database))
            checks.append(Check("schema", False, "unknown while the database does not answer"))
        else:
            checks.append(Check("database", True))
            checks.append(schema_check(database, self._history))
        if "redis" in found:
            answer = found["redis"]
            checks.append(
                unreachable("redis", answer)
                if isinstance(answer, BaseException)
                else Check("redis", True)
            )
        return Report(tuple(checks))

    def _probe_database(self) -> frozenset[str] | None:
        # Through Database's own transactions, so a dead pooled connection is noticed and the
        # pool renewed as for any request. On SQLite that is BEGIN IMMEDIATE: the probe
        # waits its turn behind a writer, for milliseconds.
        with self._db.transaction() as session:
            session.execute(text("SELECT 1"))
        if self._db.system_engine is not self._db.engine:
            # Sign-in and the scheduler's finds go through the system role's own pool.
            with self._db.across_practices(one_statement=True) as session:
                session.execute(text("SELECT 1"))
        try:
            with self._db.transaction() as session:
                rows = session.execute(text("SELECT version_num FROM alembic_version"))
                return frozenset(str(row) for row in rows.scalars())
        except Exception:
            return None  # the database answered; it has no version this role can read
