"""`attune db copy`: a practice with months of history moves from `attune serve`'s SQLite
file to PostgreSQL unchanged, and the production stack carries on from where it stopped.

The copy needs a PostgreSQL server (the PostgreSQL + Redis run). Its target is a database
of its own beside the suite's: the suite's name with `_copy` appended, emptied first.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.db.copy import table_checksum, tables
from shared.db.migrations import upgrade
from shared.db.row_security import APP_ROLE, SYSTEM_ROLE
from shared.email.sink import MailSink
from shared.embedded.lock import InstanceLock
from shared.settings import Settings
from tests.conftest import START, make_stack
from tests.support.answers import answer_a_survey
from tests.support.caseload import held_and_upcoming
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.postgres import as_role, ensure_login_role, prepare_postgres
from tests.support.practice import PracticeFixture, create_practice
from tests.support.processes import ATTUNE, REPO
from tests.support.server import serving

SECRET = "db-copy-test-secret-" + "y" * 40
WEEKS = 16
PENDING = 3


def _embedded_settings(database: Path, sink: MailSink) -> Settings:
    return Settings(
        database_url=f"sqlite:///{database}",
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        base_url="http://attune.test",
        mail_from_address="feedback@attune.example",
        secret_key=SECRET,
        # The clock jumps weeks between a sign-in and its use: as in tests/conftest.py, only
        # the absolute session limit applies.
        session_idle_minutes=8 * 60,
    )


def _copy(database: Path, target: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_DATABASE_URL=f"sqlite:///{database}", ATTUNE_SECRET_KEY=SECRET)
    return subprocess.run(
        [*ATTUNE, "db", "copy", "--to", target],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_db_copy_refuses_while_the_instance_runs(tmp_path: Path) -> None:
    database = tmp_path / "attune.db"
    upgrade(f"sqlite:///{database}")
    with InstanceLock(database, purpose="attune serve"):
        refused = _copy(database, "postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    assert refused.returncode != 0
    assert "stop it first" in refused.stderr


@pytest.fixture
def copy_target() -> Iterator[str]:
    suite = os.environ["ATTUNE_DATABASE_URL"]
    url = make_url(suite)
    target = url.set(database=f"{url.database}_copy").render_as_string(hide_password=False)
    prepare_postgres(target)
    for role in (APP_ROLE, SYSTEM_ROLE):
        ensure_login_role(target, role)
    yield target


def _seed(stack: Stack, clock: ManualClock, sink: MailSink) -> PracticeFixture:
    """Four months of weekly sessions, then this week: a dip whose nudge is still to go out
    before the next session, and sessions just held whose surveys are not yet sent."""
    with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        practice = create_practice(http, slug="moving")
        practice_id = UUID(practice.practice_id)
        client_id, clinician_id = UUID(practice.client["id"]), UUID(practice.clinician["id"])
        for week in range(WEEKS, 0, -1):
            at = START - timedelta(weeks=week)
            if week % 5 == 0:
                unanswered_session(stack.db, practice_id, client_id, clinician_id, at=at)
            else:
                answered_session(stack.db, practice_id, client_id, clinician_id, at=at, scores=FIVE)
        practice.book("next-week", START + timedelta(days=7))
        answer_a_survey(practice, stack, sink, clock, visit="this-week", comment="felt rushed")
        held_and_upcoming(
            practice,
            PENDING,
            held_at=clock.now() - timedelta(minutes=50),
            upcoming_at=START + timedelta(days=8),
        )
        stack.settle()
    return practice


@pytest.mark.postgres
def test_a_practice_moves_to_postgresql_and_production_carries_on(
    tmp_path: Path,
    sink: MailSink,
    copy_target: str,
    redis_url: str | None,
) -> None:
    assert redis_url, "the production stack needs Redis"
    database = tmp_path / "attune.db"
    embedded = _embedded_settings(database, sink)
    upgrade(embedded.database_url)
    clock = ManualClock(START)
    stack = make_stack(embedded, clock)
    try:
        practice = _seed(stack, clock, sink)
    finally:
        stack.stop()
    emails_before = len(sink.list_messages())
    caseload = [f"client.{n}@caseload.example.org" for n in range(1, PENDING + 1)]
    assert all(addressed_to(sink, address) == [] for address in caseload)
    assert addressed_to(sink, practice.clinician["email"]) == []

    copied = _copy(database, copy_target)
    assert copied.returncode == 0, copied.stderr
    assert "counts and checksums match" in copied.stdout

    # Checked again here, independently of the command: every table, every value.
    source, target = create_engine(embedded.database_url), create_engine(copy_target)
    try:
        with source.connect() as reading, target.connect() as written:
            for table in tables():
                assert table_checksum(written, table) == table_checksum(reading, table)
            responses = reading.execute(text("SELECT count(*) FROM response")).scalar()
            assert responses == WEEKS - WEEKS // 5 + 1
            raw = "SELECT {0} FROM {1}"
            for column, table_name in (
                ("comment", "response"),
                ("password_hash", "account"),
                ("token_hash", "auth_session"),
                ("version", "practice_settings_version"),
            ):
                query = text(raw.format(column, table_name))
                assert sorted(map(str, written.execute(query))) == sorted(
                    map(str, reading.execute(query))
                )
            assert "felt rushed" not in str(
                list(written.execute(text("SELECT comment FROM response")))
            )
            tenant_tables = {
                t.name for t in tables() if "practice_id" in t.columns or t.name == "practice"
            }
            forced = set(
                written.execute(
                    text("SELECT relname FROM pg_class WHERE relforcerowsecurity")
                ).scalars()
            )
            assert tenant_tables <= forced
    finally:
        source.dispose()
        target.dispose()

    production = Settings(
        database_url=as_role(copy_target, APP_ROLE),
        system_database_url=as_role(copy_target, SYSTEM_ROLE),
        migration_database_url=copy_target,
        redis_url=redis_url,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        base_url="http://attune.test",
        mail_from_address="feedback@attune.example",
        secret_key=SECRET,
        # The clock jumps weeks between a sign-in and its use: as in tests/conftest.py, only
        # the absolute session limit applies.
        session_idle_minutes=8 * 60,
    )
    stack = make_stack(production, clock)
    try:
        # Row-level security holds the application's role: no practice named, no rows.
        with stack.db.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM client")).scalar() == 0
        with stack.db.transaction(UUID(practice.practice_id)) as session:
            assert session.execute(text("SELECT count(*) FROM client")).scalar() == PENDING + 1

        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url) as http:
            # Sign-ins made on SQLite still work: token hashes moved unchanged.
            me = http.get("/api/v1/me", headers=practice.as_owner())
            assert me.status_code == 200, me.text
            alerts = http.get("/api/v1/alerts", headers=practice.as_clinician()).json()
            assert len(alerts) == 1

        clock.advance(timedelta(minutes=61))
        tick_and_settle(stack)
        tick_and_settle(stack)
        assert all(len(addressed_to(sink, address)) == 1 for address in caseload)
        assert addressed_to(sink, practice.clinician["email"]) == []

        clock.set(START + timedelta(days=6, seconds=1))
        tick_and_settle(stack)
        tick_and_settle(stack)
        assert len(addressed_to(sink, practice.clinician["email"])) == 1
        clock.advance(timedelta(hours=1))
        tick_and_settle(stack)
        assert len(addressed_to(sink, practice.clinician["email"])) == 1
        assert all(len(addressed_to(sink, address)) == 1 for address in caseload)
        assert len(sink.list_messages()) > emails_before
    finally:
        if production.redis_url:
            stack.broker.flush_all()  # type: ignore[attr-defined]
        stack.stop()

    again = _copy(database, copy_target)
    assert again.returncode != 0
    assert "already holds data" in again.stderr
