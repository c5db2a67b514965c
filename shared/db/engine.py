from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

SET_PRACTICE = text("SELECT set_config('app.practice_id', :practice_id, true)")


def _tune_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE, so API, worker and scheduler threads can share
    one file: writers queue up instead of failing with 'database is locked' halfway through."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The one way to open a transaction. On PostgreSQL it also names the practice the
    transaction acts for, which row-level security checks underneath every query."""

    def __init__(self, engine: Engine, system_engine: Engine | None = None) -> None:
        self.engine = engine
        self.system_engine = system_engine or engine
        self._sessions = sessionmaker(engine, class_=Session, expire_on_commit=False)
        self._system_sessions = sessionmaker(
            self.system_engine, class_=Session, expire_on_commit=False
        )
        # One statement needs no BEGIN and COMMIT of its own: two round trips fewer on every
        # credential lookup. SQLite keeps its transactions (see _tune_sqlite).
        self._system_lookups = (
            sessionmaker(
                self.system_engine.execution_options(isolation_level="AUTOCOMMIT"),
                class_=Session,
                expire_on_commit=False,
            )
            if self.system_engine.dialect.name == "postgresql"
            else self._system_sessions
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, practice_id: UUID | None = None) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            if practice_id is not None and self.dialect == "postgresql":
                session.execute(SET_PRACTICE, {"practice_id": str(practice_id)})
            yield session

    # The event loop's way in, for the few hot paths written as SQLAlchemy Core coroutines (a
    # survey answer): the same URLs, roles and rules as transaction() and across_practices(),
    # through the async form of the same driver (psycopg; aiosqlite on SQLite), so a request
    # waits for the database without holding a worker thread. Made on first use: workers and
    # the scheduler never open them.
    @cached_property
    def _async_engine(self) -> AsyncEngine:
        return _async_twin(self.engine)

    @asynccontextmanager
    async def transaction_async(
        self, practice_id: UUID | None = None
    ) -> AsyncIterator[AsyncConnection]:
        """transaction(), as a Core connection on the event loop."""
        async with self._async_engine.begin() as connection:
            if practice_id is not None and self.dialect == "postgresql":
                await connection.execute(SET_PRACTICE, {"practice_id": str(practice_id)})
            yield connection

    @asynccontextmanager
    async def driver_connection_async(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled connection of the application's role as psycopg itself (PostgreSQL only),
        for the one path that pipelines its statements (a survey answer; shared.db.compiled).
        The caller names the practice in its own transaction, as transaction() does, and
        leaves the connection committed or rolled back. A connection that broke leaves the
        pool, and the driver's error becomes SQLAlchemy's, which the API answers with a 503
        as it does every other (services.api.errors)."""
        async with self._async_engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: psycopg.AsyncConnection[Any] = raw.driver_connection  # type: ignore[assignment]
            try:
                yield driver
            except psycopg.Error as error:
                lost = driver.broken or driver.closed
                if lost:
                    await connection.invalidate()
                raise DBAPIError.instance(
                    None, None, error, psycopg.Error, connection_invalidated=lost
                ) from error

    @contextmanager
    def driver_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """driver_connection_async() for a worker thread: a pooled connection of the
        application's role as psycopg itself (PostgreSQL only), for the one path of a worker
        that pipelines its statements (a survey email; shared.notifications.delivery). The
        same contract: the caller names the practice in its own transaction and leaves the
        connection committed or rolled back; a connection that broke leaves the pool (even when
        the caller dealt with the error itself), and the driver's error becomes SQLAlchemy's."""
        with self.engine.connect() as connection:
            driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
            try:
                yield driver
            except psycopg.Error as error:
                lost = driver.broken or driver.closed
                if lost:
                    connection.invalidate()
                raise DBAPIError.instance(
                    None, None, error, psycopg.Error, connection_invalidated=lost
                ) from error
            if driver.broken or driver.closed:
                connection.invalidate()

    @contextmanager
    def prepared_transaction(self, practice_id: UUID) -> Iterator[Session]:
        """A transaction opened ahead of time, its practice named, for a write that must
        follow an outside event as closely as possible (recording that the mail relay accepted
        an email): the caller commits; whatever it has not committed is rolled back."""
        with self._sessions() as session:
            try:
                if self.dialect == "postgresql":
                    session.execute(SET_PRACTICE, {"practice_id": str(practice_id)})
                yield session
            finally:
                if session.in_transaction():
                    session.rollback()

    @contextmanager
    def across_practices(self, *, one_statement: bool = False) -> Iterator[Session]:
        """The narrow door past row-level security, for exactly two jobs: finding due work
        as (practice id, id) pairs for the scheduler and the outbox relay, and finding which
        practice a credential (a token's hash, a login email) belongs to. Whatever is then done
        with those ids happens in `transaction(practice_id)`.

        On PostgreSQL it connects as the system role, which may read only the columns those
        jobs need (ids, statuses, due times, hashes) and write only the outbox's published
        time (shared.db.row_security); on SQLite it is an ordinary transaction.
        `one_statement` is for a block that runs a single read: it runs without a transaction.
        """
        sessions = self._system_lookups if one_statement else self._system_sessions
        with sessions() as session, session.begin():
            yield session

    def check_cross_practice_reach(self) -> None:
        """Refuse to start where across_practices() would silently find nothing: on
        PostgreSQL without a system URL, it runs as the app role, which row-level security
        confines to one practice, so no due work and no login would ever be found."""
        if self.dialect != "postgresql" or self.system_engine is not self.engine:
            return
        with self.engine.connect() as connection:
            unbounded = connection.execute(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        if not unbounded:
            raise RuntimeError(
                "ATTUNE_SYSTEM_DATABASE_URL is not set: the scheduler, the outbox relay and "
                "sign-in need the system role to find work and credentials across practices "
                "(README, Database roles)."
            )

    def dispose(self) -> None:
        self.engine.dispose()
        if self.system_engine is not self.engine:
            self.system_engine.dispose()
        # The event loop that opened these connections may be gone: drop them unclosed
        # (the server ends each session when its socket closes).
        twin = self.__dict__.pop("_async_engine", None)
        if twin is not None:
            twin.sync_engine.dispose(close=False)


def create_database(url: str, *, system_url: str | None = None, pool_size: int = 10) -> Database:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _tune_sqlite(engine)
    else:
        engine = _postgres_engine(url, pool_size)
    if system_url is None or system_url == url or url.startswith("sqlite"):
        return Database(engine)
    # Every link, login and API key is first looked up as the system role, so its pool takes
    # the same concurrency as the application's: a smaller one opens and closes a connection
    # per request once it overflows (a fifth of a survey answer's time when it was 2).
    return Database(engine, _postgres_engine(system_url, pool_size))


def _async_twin(engine: Engine) -> AsyncEngine:
    """An async engine on the same database and role as `engine`, keeping as many
    connections as `engine` may hold at once (its pool and its overflow)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        twin = create_async_engine(
            url.set(drivername="sqlite+aiosqlite"), connect_args={"timeout": 30}
        )
        _tune_sqlite(twin.sync_engine)
        return twin
    pool = engine.pool
    reach = pool.size() + pool._max_overflow  # type: ignore[attr-defined]
    # No overflow: connections past the pool's size were opened and closed again with each
    # burst (32 clients against a pool of 10 cost about 0.5 ms of CPU per answer and doubled
    # its p50); a request waits its turn for a kept connection, and one that waits past the
    # pool's timeout is answered 503 (services.api.errors). Kept: as many as the sync engine
    # reaches (20), not its pool alone (10): with 10, 32 clients queued for them and each
    # answer held its connection through the event loop's longer turns, so answers per
    # second fell below 8 clients' and p99 rose to 4x the bare endpoint's (bench/RESULTS.md,
    # answers32).
    return create_async_engine(
        url.set(drivername="postgresql+psycopg"), pool_size=reach, max_overflow=0
    )


def _postgres_engine(url: str, pool_size: int) -> Engine:
    """No pre-ping: it is a round trip on every checkout. A connection that died while idle
    (a database restart) fails its first statement instead; SQLAlchemy then discards every
    pooled connection of that age, the API answers that one request 503 (services.api.errors)
    and actors retry, and the next checkout connects afresh."""
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size)
