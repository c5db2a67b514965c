"""Redis stops while clients answer: every answer is stored, the events wait in the outbox,
and once Redis is back every alert and nudge follows, none twice.

Production mode only (PostgreSQL + Redis): the broker is a private redis-server this test
starts, stops and starts again, never the machine's shared one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import func, select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.db import Database
from shared.email.sink import MailSink
from shared.models import Alert, Nudge, Response
from shared.outbox import unpublished_count
from shared.settings import Settings
from tests.conftest import START, make_stack
from tests.support.answers import LOW
from tests.support.caseload import held_and_upcoming
from tests.support.inspection import everything
from tests.support.links import survey_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import create_practice
from tests.support.redis_server import PrivateRedis
from tests.support.server import serving

pytestmark = pytest.mark.postgres
CLIENTS = 4


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[PrivateRedis]:
    with PrivateRedis(tmp_path) as running:
        yield running


def _count(stack: Stack, model: type) -> int:
    with everything(stack) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_answers_during_a_redis_outage_lose_nothing(
    settings: Settings,
    db: Database,
    sink: MailSink,
    clock: ManualClock,
    redis_server: PrivateRedis,
) -> None:
    stack = make_stack(settings.model_copy(update={"redis_url": redis_server.url}), clock)
    try:
        with (
            serving(stack.api()) as base_url,
            httpx.Client(base_url=base_url, timeout=30) as http,
        ):
            practice = create_practice(http)
            upcoming_at = START + timedelta(days=7)
            clients = held_and_upcoming(
                practice, CLIENTS, held_at=START - timedelta(hours=1), upcoming_at=upcoming_at
            )
            clock.advance(timedelta(minutes=61))
            tick_and_settle(stack)
            paths = [survey_path(addressed_to(sink, c.email)[0]) for c in clients]

            redis_server.stop()
            for path in paths:
                answered = http.post(path, data=LOW)
                assert answered.status_code == 200, answered.text
            assert _count(stack, Response) == CLIENTS
            # The relay cannot publish: the events stay in the outbox, none marked sent.
            with pytest.raises(Exception, match=r"(?i)connect"):
                tick(stack.db, stack.clock, stack.publisher)
            assert unpublished_count(stack.db) == CLIENTS
            assert _count(stack, Alert) == 0

            redis_server.start()
            tick_and_settle(stack)
            assert _count(stack, Alert) == CLIENTS
            assert _count(stack, Nudge) == CLIENTS

            clock.set(upcoming_at - timedelta(hours=24) + timedelta(seconds=1))
            tick_and_settle(stack)
            tick_and_settle(stack)
            nudges = addressed_to(sink, practice.clinician["email"])
            assert len(nudges) == CLIENTS
            assert len({str(m["Message-ID"]) for m in nudges}) == CLIENTS
            for client in clients:
                assert len(addressed_to(sink, client.email)) == 1
            assert _count(stack, Alert) == CLIENTS
    finally:
        stack.stop()
