"""Nothing twice: every message of the loop delivered twice, two workers, two scheduler ticks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import func, select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.db import Database
from shared.email.sink import MailSink
from shared.models import Alert, Invitation, Notification, Nudge, Response
from shared.settings import Settings
from tests.conftest import START, make_stack
from tests.support.inspection import everything
from tests.support.loop import TwicePublisher, addressed_to, links, settle
from tests.support.server import serving


@pytest.fixture
def two_worker_stack(settings: Settings, clock: ManualClock, db: Database) -> Iterator[Stack]:
    running = make_stack(settings, clock, workers=2)
    yield running
    if settings.redis_url:
        running.broker.flush_all()  # type: ignore[attr-defined]
    running.stop()


def _count(stack: Stack, model: type) -> int:
    with everything(stack) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _tick_twice(stack: Stack, publisher: TwicePublisher) -> None:
    settle(stack, publisher)
    # Two scheduler replicas finding the same due work.
    tick(stack.db, stack.clock, publisher)
    tick(stack.db, stack.clock, publisher)
    settle(stack, publisher)


def test_every_message_twice_and_two_workers_change_nothing(
    two_worker_stack: Stack, sink: MailSink, clock: ManualClock
) -> None:
    from tests.support.practice import create_practice

    stack = two_worker_stack
    twice = TwicePublisher(stack.publisher)
    with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        practice = create_practice(http)
        practice.book("visit-1", START - timedelta(hours=1))
        practice.book("visit-2", START + timedelta(days=7))
        # The scheduling system re-sends its events too.
        practice.book("visit-1", START - timedelta(hours=1))
        practice.complete("visit-1")
        practice.complete("visit-1")

        clock.advance(timedelta(minutes=61))
        _tick_twice(stack, twice)
        _tick_twice(stack, twice)
        surveys = addressed_to(sink, "robin.client@harbour.example.com")
        assert len(surveys) == 1
        survey = next(link for link in links(surveys[0]) if "/s/" in link and "?" not in link)
        answers = {"honest": "1", "disagree": "2", "respected": "2", "input": "3", "pace": "1"}
        path = survey.removeprefix("http://attune.test")
        assert http.post(path, data=answers).status_code == 200
        assert http.post(path, data=answers).status_code == 409

        _tick_twice(stack, twice)
        clock.set(START + timedelta(days=6, minutes=1))
        _tick_twice(stack, twice)
        _tick_twice(stack, twice)

    assert len(addressed_to(sink, "robin.client@harbour.example.com")) == 1
    assert len(addressed_to(sink, "casey@harbour.example.com")) == 1
    assert _count(stack, Invitation) == 1
    assert _count(stack, Response) == 1
    assert _count(stack, Alert) == 1
    assert _count(stack, Nudge) == 1
    assert _count(stack, Notification) == 2
