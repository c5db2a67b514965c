"""Test wiring. The same tests run on the embedded default (SQLite + StubBroker) and, with
ATTUNE_DATABASE_URL and ATTUNE_REDIS_URL set, against PostgreSQL + Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlmodel import SQLModel

import shared.models  # noqa: F401
from services.bootstrap import Stack, build_stack
from shared.clock import ManualClock
from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.db.row_security import APP_ROLE, SYSTEM_ROLE
from shared.email.sink import MailSink
from shared.email.smtp import SmtpMailer
from shared.settings import Settings
from tests.support.postgres import as_role, ensure_login_role, prepare_postgres

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning


@pytest.fixture(scope="session")
def owner_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrations run as the owner (on PostgreSQL the URL given, a superuser)."""
    url = os.environ.get("ATTUNE_DATABASE_URL")
    if url:
        prepare_postgres(url)
        for role in (APP_ROLE, SYSTEM_ROLE):
            ensure_login_role(url, role)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'attune.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def database_url(owner_database_url: str) -> str:
    """The application's URL: on PostgreSQL the role row-level security holds, so every
    test also shows that the app works under it."""
    if owner_database_url.startswith("sqlite"):
        return owner_database_url
    return as_role(owner_database_url, APP_ROLE)


@pytest.fixture(scope="session")
def system_database_url(owner_database_url: str) -> str | None:
    if owner_database_url.startswith("sqlite"):
        return None
    return as_role(owner_database_url, SYSTEM_ROLE)


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return os.environ.get("ATTUNE_REDIS_URL")


@pytest.fixture(scope="session")
def session_db(database_url: str, system_database_url: str | None) -> Iterator[Database]:
    db = create_database(database_url, system_url=system_database_url)
    yield db
    db.dispose()


@pytest.fixture(scope="session")
def owner_db(owner_database_url: str) -> Iterator[Database]:
    """Sees every practice (the owner is exempt from row-level security): for emptying
    tables between tests and for tests that inspect the whole database."""
    db = create_database(owner_database_url)
    yield db
    db.dispose()


def empty_tables(db: Database) -> None:
    with db.transaction() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())


@pytest.fixture
def db(session_db: Database, owner_db: Database) -> Database:
    empty_tables(owner_db)
    return session_db


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail", port=0) as running:
        yield running


@pytest.fixture
def settings(
    database_url: str,
    system_database_url: str | None,
    owner_database_url: str,
    redis_url: str | None,
    sink: MailSink,
) -> Settings:
    return Settings(
        database_url=database_url,
        system_database_url=system_database_url,
        migration_database_url=owner_database_url,
        redis_url=redis_url,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        smtp_security="none",
        base_url="http://attune.test",
        mail_from_address="feedback@attune.example",
        # Long enough for production mode, which the processes tests start.
        secret_key="attune-test-secret-long-enough-for-production-mode",
        # Rate-limit counters in Redis must not carry over from one test to the next.
        redis_namespace=f"attune-test-{uuid.uuid4().hex[:8]}",
    )


def make_stack(settings: Settings, clock: ManualClock, *, workers: int = 1) -> Stack:
    stack = build_stack(settings, clock=clock, namespace=f"attune-test-{uuid.uuid4().hex[:8]}")
    if settings.redis_url:
        stack.broker.flush_all()  # type: ignore[attr-defined]
    stack.start_workers(SmtpMailer.from_settings(settings), count=workers)
    return stack


@pytest.fixture
def stack(settings: Settings, clock: ManualClock, db: Database) -> Iterator[Stack]:
    running = make_stack(settings, clock)
    yield running
    if settings.redis_url:
        running.broker.flush_all()  # type: ignore[attr-defined]
    running.stop()


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    from tests.support.server import serving

    with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` fault or load the production backends; embedded runs deselect
    them (reported as deselected, not skipped) and the PostgreSQL + Redis run has them."""
    if os.environ.get("ATTUNE_DATABASE_URL", "").startswith("postgresql"):
        return
    chosen = [item for item in items if item.get_closest_marker("postgres") is None]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen
