"""Row-level security on PostgreSQL: what holds underneath even if a query forgets its scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.db import create_database
from shared.db.row_security import APP_ROLE, LINK_PRACTICE_FUNCTION, SYSTEM_ROLE
from shared.email.sink import MailSink
from shared.work.failures import record_failure
from tests.support.answers import answer_a_survey
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture, create_practice

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _postgres_only(settings: Any) -> None:
    if settings.is_sqlite:
        pytest.skip("row-level security exists only on PostgreSQL (SQLite relies on shared.access)")


def _tenant_tables() -> list[str]:
    return [t.name for t in SQLModel.metadata.sorted_tables if "practice_id" in t.columns]


@pytest.fixture
def two_practices(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> tuple[PracticeFixture, PracticeFixture]:
    """Two practices, each with a client who answered a survey with a comment and a dip."""
    a = create_practice(http, name="Harbour", slug="harbour")
    b = create_practice(http, name="Orchard", slug="orchard")
    for practice in (a, b):
        practice.book("next", clock.now() + timedelta(days=7))  # so the dip's nudge has a target
        answer_a_survey(practice, stack, sink, clock, visit="v1", comment="private words")
    return a, b


def _fill_the_tables_the_loop_leaves_empty(
    stack: Stack, sink: MailSink, clock: ManualClock, practices: tuple[PracticeFixture, ...]
) -> None:
    """A digest reader's preference and digest, a password-reset link and a client's
    opt-out in each practice, each made through its own route."""
    for practice in practices:
        chosen = practice.http.put(
            f"/api/v1/clinicians/{practice.clinician['id']}/nudge-preference",
            json={"delivery": "daily_digest", "digest_hour": 7},
            headers=practice.as_clinician(),
        )
        assert chosen.status_code == 200, chosen.text
        reset = practice.http.post(
            "/api/v1/auth/password-reset", json={"email": practice.owner["email"]}
        )
        assert reset.status_code == 202, reset.text
        survey = addressed_to(sink, practice.client["email"])[-1]
        unsubscribe = next(link for link in links(survey) if "/u/" in link)
        left = practice.http.post(unsubscribe.removeprefix("http://attune.test"))
        assert left.status_code == 200, left.text
    # The morning of both practices' "next" sessions (London is on UTC then): the digests.
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    tick_and_settle(stack)
    # A piece of due work that failed, recorded the way the scheduler records one.
    for practice in practices:
        record_failure(
            stack.db,
            UUID(practice.practice_id),
            "send_invitation",
            uuid4(),
            RuntimeError("planted"),
            now=clock.now(),
        )


def test_a_query_that_forgets_the_practice_sees_only_the_current_one(
    stack: Stack,
    sink: MailSink,
    clock: ManualClock,
    two_practices: tuple[PracticeFixture, PracticeFixture],
) -> None:
    a, b = two_practices
    _fill_the_tables_the_loop_leaves_empty(stack, sink, clock, two_practices)
    with everything(stack) as session:
        for table in _tenant_tables():
            practices = {
                str(row[0])
                for row in session.execute(text(f'SELECT DISTINCT practice_id FROM "{table}"'))
            }
            # The fixture gives every table something in both practices worth filtering.
            if table not in {"erased_client_tally"}:
                assert practices >= {a.practice_id, b.practice_id}, table

    with stack.db.transaction(UUID(a.practice_id)) as session:
        for table in _tenant_tables():
            seen = {
                str(row[0])
                for row in session.execute(text(f'SELECT DISTINCT practice_id FROM "{table}"'))
            }
            assert seen <= {a.practice_id}, table
        assert session.execute(text("SELECT count(*) FROM client")).scalar_one() == 1
        names = session.execute(text("SELECT name FROM practice")).scalars().all()
        assert names == ["Harbour"]


def test_with_no_practice_set_a_query_sees_nothing(
    stack: Stack, two_practices: tuple[PracticeFixture, PracticeFixture]
) -> None:
    with stack.db.transaction() as session:
        for table in [*_tenant_tables(), "practice"]:
            assert session.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one() == 0
    # A pooled connection that served a practice before must not remember it.
    a, _ = two_practices
    with stack.db.transaction(UUID(a.practice_id)) as session:
        assert session.execute(text("SELECT count(*) FROM client")).scalar_one() == 1
    for _ in range(3):
        with stack.db.transaction() as session:
            assert session.execute(text("SELECT count(*) FROM client")).scalar_one() == 0


def test_rows_cannot_be_written_into_or_moved_to_another_practice(
    stack: Stack, two_practices: tuple[PracticeFixture, PracticeFixture]
) -> None:
    a, b = two_practices
    in_a = UUID(a.practice_id)
    with pytest.raises(DBAPIError, match="row-level security"), stack.db.transaction(in_a) as s:
        s.execute(
            text(
                "INSERT INTO client (id, practice_id, clinician_id, reference, email, "
                "timezone, created_at) VALUES (:id, :practice, :clinician, 'X-1', "
                "'x@example.com', 'UTC', now())"
            ),
            {"id": uuid4(), "practice": b.practice_id, "clinician": b.clinician["id"]},
        )
    with pytest.raises(DBAPIError, match="row-level security"), stack.db.transaction(in_a) as s:
        s.execute(text("UPDATE client SET practice_id = :b"), {"b": b.practice_id})
    # Another practice's rows are not there to update or delete.
    with stack.db.transaction(UUID(a.practice_id)) as session:
        assert (
            session.execute(
                text("UPDATE client SET timezone = 'UTC' WHERE practice_id = :b"),
                {"b": b.practice_id},
            ).rowcount
            == 0
        )
        assert (
            session.execute(
                text("DELETE FROM response WHERE practice_id = :b"), {"b": b.practice_id}
            ).rowcount
            == 0
        )
    with everything(stack) as session:
        assert (
            session.execute(
                text("SELECT count(*) FROM response WHERE practice_id = :b"), {"b": b.practice_id}
            ).scalar_one()
            == 1
        )


def test_the_app_role_owns_nothing_and_cannot_bypass_or_switch_off_security(
    stack: Stack,
) -> None:
    with stack.db.transaction() as session:
        role = session.execute(
            text(
                "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole FROM pg_roles "
                "WHERE rolname = current_user"
            )
        ).one()
        assert tuple(role) == (APP_ROLE, False, False, False)
        owned = session.execute(
            text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        ).scalar_one()
        assert owned == 0
    for statement in (
        "ALTER TABLE client DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE client NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON client",
        "SET LOCAL ROLE postgres",
    ):
        with pytest.raises(DBAPIError), stack.db.transaction() as session:
            session.execute(text(statement))
    with pytest.raises(DBAPIError, match="row-level security"), stack.db.transaction() as session:
        session.execute(text("SET LOCAL row_security = off"))
        session.execute(text("SELECT count(*) FROM client"))


def test_every_table_with_a_practice_has_forced_row_level_security(stack: Stack) -> None:
    """Fails for a table added later (another migration) that forgot enable_tenant_rls."""
    with everything(stack) as session:
        tables = session.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                "  EXISTS (SELECT 1 FROM pg_policies p WHERE p.tablename = c.relname "
                "          AND p.policyname = 'tenant_isolation' AND 'public' = ANY(p.roles)) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind = 'r' AND ("
                "  c.relname = 'practice' OR EXISTS (SELECT 1 FROM information_schema.columns k "
                "  WHERE k.table_schema = 'public' AND k.table_name = c.relname "
                "  AND k.column_name = 'practice_id'))"
            )
        ).all()
    assert {name for name, *_ in tables} >= {*_tenant_tables(), "practice"}
    unprotected = [name for name, enabled, forced, policy in tables if not enabled or not forced]
    unprotected += [name for name, _, _, policy in tables if not policy]
    assert unprotected == []


def test_the_audit_log_is_append_only_for_the_app(
    stack: Stack, two_practices: tuple[PracticeFixture, PracticeFixture]
) -> None:
    a, _ = two_practices
    practice = UUID(a.practice_id)
    with stack.db.transaction(practice) as session:
        assert session.execute(text("SELECT count(*) FROM audit_event")).scalar_one() > 0
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with (
            pytest.raises(DBAPIError, match="permission denied"),
            stack.db.transaction(practice) as session,
        ):
            session.execute(text(statement))


def test_the_system_role_reads_ids_across_practices_but_no_personal_data(
    stack: Stack, two_practices: tuple[PracticeFixture, PracticeFixture]
) -> None:
    a, b = two_practices
    with stack.db.across_practices() as session:
        ids = {str(i) for i in session.execute(text("SELECT id FROM practice")).scalars()}
        assert ids == {a.practice_id, b.practice_id}
    for statement in (
        "SELECT email FROM client",
        "SELECT comment FROM response",
        "SELECT scores FROM response",
        "SELECT evidence FROM alert",
        "SELECT name FROM practice",
        "SELECT password_hash FROM account",
        "UPDATE invitation SET status = 'expired'",
        "DELETE FROM outbox_event",
    ):
        with pytest.raises(DBAPIError, match="permission denied"), stack.db.across_practices() as s:
            s.execute(text(statement))


def test_the_practice_is_set_as_a_parameter_never_formatted_into_sql(stack: Stack) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    hostile = "00000000-0000-0000-0000-000000000000'; DROP TABLE client; --"
    event.listen(stack.db.engine, "before_cursor_execute", capture)
    try:
        with pytest.raises(DBAPIError), stack.db.transaction(hostile) as session:  # type: ignore[arg-type]
            session.execute(text("SELECT count(*) FROM client"))
    finally:
        event.remove(stack.db.engine, "before_cursor_execute", capture)
    set_config = [(s, p) for s, p in statements if "set_config" in s]
    assert len(set_config) == 1
    statement, parameters = set_config[0]
    assert hostile not in statement
    assert hostile in str(parameters)
    with everything(stack) as session:
        assert session.execute(text("SELECT to_regclass('client')")).scalar_one() is not None


def test_a_process_without_the_system_role_refuses_to_start(
    database_url: str, system_database_url: str
) -> None:
    # As the app role alone, the scheduler and sign-in would find nothing, silently.
    confined = create_database(database_url)
    try:
        with pytest.raises(RuntimeError, match="ATTUNE_SYSTEM_DATABASE_URL"):
            confined.check_cross_practice_reach()
    finally:
        confined.dispose()
    configured = create_database(database_url, system_url=system_database_url)
    try:
        configured.check_cross_practice_reach()
    finally:
        configured.dispose()


def test_the_link_practice_function_gives_the_app_a_practice_id_and_nothing_more(
    stack: Stack, two_practices: tuple[PracticeFixture, PracticeFixture]
) -> None:
    a, b = two_practices
    with everything(stack) as session:
        digests = {
            practice: digest
            for practice, digest in session.execute(
                text("SELECT practice_id::text, token_hash FROM access_token")
            )
        }
        shape = session.execute(
            text(
                "SELECT p.prosecdef, p.provolatile, r.rolname, p.proconfig, "
                "pg_get_function_result(p.oid), pg_get_function_arguments(p.oid) "
                "FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE p.proname = :name"
            ),
            {"name": LINK_PRACTICE_FUNCTION},
        ).one()
    # Runs with the system role's rights (its column grant on access_token), never the
    # owner's; STABLE; a search_path of its own; one uuid out of one hash in.
    assert tuple(shape) == (
        True,
        "s",
        SYSTEM_ROLE,
        ["search_path=pg_catalog, pg_temp"],
        "uuid",
        "digest text",
    )
    call = text(f"SELECT {LINK_PRACTICE_FUNCTION}(:digest)")
    # The app role in no practice, or in the other one, still learns a link's practice ...
    with stack.db.transaction() as session:
        for practice in (a, b):
            found = session.execute(call, {"digest": digests[practice.practice_id]}).scalar()
            assert str(found) == practice.practice_id
        assert session.execute(call, {"digest": "0" * 64}).scalar() is None
    # ... and nobody else may ask: PUBLIC may not; the system role owns it, and reads the
    # same two columns directly anyway.
    with everything(stack) as session:
        allowed = session.execute(
            text(
                "SELECT grantee::regrole::text FROM pg_proc, aclexplode(proacl) "
                "WHERE proname = :name AND privilege_type = 'EXECUTE'"
            ),
            {"name": LINK_PRACTICE_FUNCTION},
        ).scalars()
        assert sorted(allowed) == sorted([APP_ROLE, SYSTEM_ROLE])
        public = session.execute(
            text("SELECT has_function_privilege('public', :signature, 'EXECUTE')"),
            {"signature": f"{LINK_PRACTICE_FUNCTION}(text)"},
        ).scalar_one()
        assert public is False
