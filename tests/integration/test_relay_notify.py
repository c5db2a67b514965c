"""Who wakes the outbox relay: on PostgreSQL the database, at commit, and every worker listens;
on SQLite the process that wrote the event.

The PostgreSQL tests run real processes and real connections; each waits on an outcome with
a deadline far below the relay's sweep (set to minutes here), so only a notification, or the
pass a listener makes on reconnecting, can have published in time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from services.bootstrap import Stack, build_stack
from shared.clock import ManualClock
from shared.db import Database
from shared.email.sink import MailSink, free_port
from shared.models import Alert, OutboxEvent
from shared.outbox import CHANNEL, emit, emit_after, event_params, unpublished_count
from shared.settings import Settings
from tests.conftest import START
from tests.support.loop import addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture, create_practice
from tests.support.processes import environment, logs_of, poll, processes

# Far below the sweep the worker is given (SWEEP): what is published within it was woken.
BOUND = 30.0
SWEEP = "600"
LOW = {"honest": "2", "disagree": "3", "respected": "4", "input": "4", "pace": "2"}

postgres = pytest.mark.postgres


def _listening(owner_url: str) -> psycopg.Connection:
    url = make_url(owner_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(f"LISTEN {CHANNEL}")
    return connection


class _Undone(Exception):
    pass


def _emit(db: Database, practice_id: UUID, *, commit: bool = True, events: int = 1) -> None:
    try:
        with db.transaction(practice_id) as session:
            for _ in range(events):
                emit(session, "evaluate_response", practice_id, uuid4(), at=START)
            if not commit:
                raise _Undone
    except _Undone:
        pass


@postgres
def test_the_trigger_notifies_once_per_committed_transaction_that_wrote_events(
    db: Database, owner_database_url: str
) -> None:
    practice_id = uuid4()
    with _listening(owner_database_url) as listener:
        _emit(db, practice_id, events=3)  # one notification, not three
        _emit(db, practice_id, commit=False)  # rolled back: none
        with db.transaction(practice_id) as session:
            # An INSERT ... SELECT that inserts no row (a claim that found nothing): none.
            nothing = select(text("1 AS found")).where(text("false")).cte("nothing")
            session.execute(
                emit_after(nothing),
                event_params("evaluate_response", practice_id, uuid4(), at=START),
            )
        _emit(db, practice_id)
        # Notifications arrive in commit order: one of our own marks the end.
        listener.execute(f"NOTIFY {CHANNEL}, 'end'")
        payloads: list[str] = []
        for notification in listener.notifies(timeout=BOUND):
            payloads.append(notification.payload)
            if notification.payload == "end":
                break
    assert payloads == ["", "", "end"]
    assert unpublished_count(db) == 4


@pytest.fixture
def survey_links(
    settings: Settings, stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> Iterator[tuple[PracticeFixture, list[str]]]:
    """Two surveys sent and not answered, their events all published (by the test's own
    stack), so that whatever the outbox holds next was written after."""
    practice = create_practice(http, slug="relaying")
    for visit in ("v-1", "v-2"):
        practice.book(visit, clock.now() - timedelta(hours=1))
        practice.complete(visit)
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    surveys = addressed_to(sink, practice.client["email"])
    assert len(surveys) == 2
    yield (
        practice,
        [
            next(link for link in links(s) if "/s/" in link and "?" not in link).removeprefix(
                "http://attune.test"
            )
            for s in surveys
        ],
    )


def _listener_pids(owner_db: Database) -> set[int]:
    with owner_db.transaction() as session:
        return set(
            session.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = :listen"
                ),
                {"listen": f"LISTEN {CHANNEL}"},
            ).scalars()
        )


def _alerts(owner_db: Database) -> int:
    with owner_db.transaction() as session:
        return int(session.execute(select(func.count()).select_from(Alert)).scalar_one())


@postgres
def test_a_worker_publishes_an_answer_at_once_and_after_losing_its_connection(
    settings: Settings,
    db: Database,
    owner_db: Database,
    survey_links: tuple[PracticeFixture, list[str]],
    tmp_path: Path,
) -> None:
    practice, urls = survey_links
    ops = free_port()
    env = environment(settings, ATTUNE_RELAY_SWEEP_SECONDS=SWEEP)
    worker = ["worker", "--threads", "2", "--ops-port", str(ops)]
    # No scheduler and no relay in this process: only the worker's listener publishes.
    with processes([worker], env, tmp_path):
        assert poll(lambda: _listener_pids(owner_db), seconds=BOUND), logs_of(tmp_path)
        (first,) = _listener_pids(owner_db)

        answered = practice.http.post(urls[0], data=LOW)
        assert answered.status_code == 200, answered.text
        assert poll(lambda: _alerts(owner_db) == 1, seconds=BOUND), logs_of(tmp_path)
        assert unpublished_count(db) == 0

        live = httpx.get(f"http://127.0.0.1:{ops}/health/live", timeout=5).json()
        assert live["checks"]["relay"] == {"ok": True}, live

        # The listener's connection dies; the answer written meanwhile sends no notification
        # anyone hears, and goes out on the pass the listener makes once it is back.
        with owner_db.transaction() as session:
            session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        answered = practice.http.post(urls[1], data=LOW)
        assert answered.status_code == 200, answered.text
        assert poll(lambda: _alerts(owner_db) == 2, seconds=BOUND), logs_of(tmp_path)
        assert unpublished_count(db) == 0
        assert poll(lambda: _listener_pids(owner_db) - {first}, seconds=BOUND)
        live = httpx.get(f"http://127.0.0.1:{ops}/health/live", timeout=5).json()
        assert live["status"] == "ok", live

    lost = [
        json.loads(line)
        for line in logs_of(tmp_path).splitlines()
        if '"relay.listener_lost"' in line
    ]
    assert lost, logs_of(tmp_path)
    # The error's class, never its message (which names the host and the role).
    assert set(lost[0]) >= {"error", "attempt", "retry_in_seconds"}
    assert practice.client["email"] not in logs_of(tmp_path)


def _relay_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("outbox-relay", "outbox-listener")]


def test_who_relays_in_each_process(settings: Settings, db: Database) -> None:
    """What `attune api` and `attune worker` start (services/cli.py): on PostgreSQL the
    API runs no relay and the worker listens; on SQLite the API relays in its own process."""
    before = _relay_threads()
    for process in ("api", "worker"):
        stack = build_stack(settings, namespace=f"attune-test-{uuid4().hex[:8]}")
        try:
            stack.start_relay_for(process)  # type: ignore[arg-type]
            started = [name for name in _relay_threads() if name not in before]
            if db.dialect == "postgresql":
                expected = ["outbox-listener"] if process == "worker" else []
            else:
                expected = ["outbox-relay"] if process == "api" else []
            assert started == expected, (process, started)
            checks = {check.name for check in stack.health().live().checks}
            assert ("relay" in checks) == (expected == ["outbox-listener"])
        finally:
            stack.stop()


def test_the_embedded_relay_publishes_the_moment_the_api_commits(
    settings: Settings, db: Database, owner_db: Database, clock: ManualClock
) -> None:
    """`attune serve`'s wiring on SQLite (and the API's own relay wherever it runs one): the
    answer's event is published without any tick or settle."""
    from tests.support.server import serving

    stack = build_stack(settings, clock=clock, namespace=f"attune-test-{uuid4().hex[:8]}")
    stack.start_relay()
    try:
        with serving(stack.api()) as base, httpx.Client(base_url=base, timeout=30) as http:
            practice = create_practice(http, slug="embedded-relay")
            practice.book("v-1", stack.clock.now() - timedelta(hours=1))
            practice.complete("v-1")

            def published() -> bool:
                with owner_db.transaction() as session:
                    events = session.execute(select(OutboxEvent.published_at)).scalars().all()
                return bool(events) and None not in events

            assert poll(published, seconds=BOUND)
    finally:
        if settings.redis_url:
            stack.broker.flush_all()  # type: ignore[attr-defined]
        stack.stop()
