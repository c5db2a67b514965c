"""Test wiring. The same tests run on the embedded default (SQLite + StubBroker) and, with
ATTUNE_DATABASE_URL and ATTUNE_REDIS_URL set, against PostgreSQL + Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import hypothesis
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

# The suite runs on shared machines where another process can hold the CPU for seconds:
# Hypothesis's timing checks (slow input generation, per-example deadline) would then fail a
# test for the machine's load, not for anything the code did. Every property is still checked.
hypothesis.settings.register_profile(
    "shared-machine", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("shared-machine")


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
        # Tests jump the clock by hours between a sign-in and its use; only the absolute
        # limit applies to them. tests/integration/test_session_idle.py tests the idle one.
        session_idle_minutes=8 * 60,
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


BROWSER_MISSING = (
    "browser tests NOT run: no Chromium found (install Debian's chromium, or set "
    "ATTUNE_CHROMIUM to its path). Set ATTUNE_REQUIRE_BROWSER=1 to make this an error."
)


def _deselect(config: pytest.Config, items: list[pytest.Item], unwanted: object) -> None:
    chosen = [item for item in items if not unwanted(item)]  # type: ignore[operator]
    if len(chosen) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
        items[:] = chosen


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` fault or load the production backends; embedded runs deselect
    them (reported as deselected, not skipped) and the PostgreSQL + Redis run has them.
    Browser tests need a Chromium: without one they are deselected and the run says so
    plainly at the end, unless ATTUNE_REQUIRE_BROWSER is set (CI), where that is an error."""
    from tests.browser.chromium import chromium_path

    in_browser = [item for item in items if "tests/browser/" in item.nodeid]
    if in_browser and chromium_path() is None:
        if os.environ.get("ATTUNE_REQUIRE_BROWSER"):
            raise pytest.UsageError(BROWSER_MISSING)
        config.stash[_browser_missing] = True
        _deselect(config, items, lambda item: "tests/browser/" in item.nodeid)
    if not os.environ.get("ATTUNE_DATABASE_URL", "").startswith("postgresql"):
        _deselect(config, items, lambda item: item.get_closest_marker("postgres") is not None)


_browser_missing = pytest.StashKey[bool]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if terminalreporter.config.stash.get(_browser_missing, False):
        terminalreporter.write_line(BROWSER_MISSING, yellow=True, bold=True)
