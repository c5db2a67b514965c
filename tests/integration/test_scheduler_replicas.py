"""Two scheduler replicas pass each other by: a job one of them is running is skipped by the
other (shared.db.due.job_turn), so the same batch is not found and tried twice. PostgreSQL
only: SQLite has one process, the embedded lock sees to that."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlmodel import Session

from services.bootstrap import Stack
from services.worker.scheduler import TickReport, tick
from shared.clock import ManualClock
from shared.db import Database
from shared.db.due import job_turn
from shared.survey import invitations
from tests.conftest import START
from tests.support.loop import settle
from tests.support.practice import create_practice

pytestmark = pytest.mark.postgres


def test_a_job_turn_is_one_schedulers_at_a_time(db: Database) -> None:
    with (
        job_turn(db, "send_nudge") as first,
        job_turn(db, "send_nudge") as second,
        job_turn(db, "send_digest") as other,
    ):
        assert (first, second, other) == (True, False, True)
    with job_turn(db, "send_nudge") as again:
        assert again  # let go when the first turn ended


def test_a_second_scheduler_skips_the_job_the_first_is_running(
    stack: Stack, http: httpx.Client, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    practice = create_practice(http, name="Harbour Counselling", slug="harbour")
    for number in range(3):
        practice.book(f"h-{number}", START - timedelta(hours=3 - number))
        practice.complete(f"h-{number}")
    settle(stack)
    clock.advance(timedelta(hours=2))

    # The first scheduler stops inside its first send (before the send's claim) until the
    # second has ticked: before job_turn, the second found the same three invitations (the
    # first find's row locks had ended with its transaction) and sent them itself.
    send = invitations.send_invitation
    inside, release = threading.Event(), threading.Event()
    sent_by: dict[UUID, str] = {}

    def held_send(session: Session, invitation_id: UUID, **kwargs: Any) -> bool:
        sent_by[invitation_id] = threading.current_thread().name
        if not inside.is_set():
            inside.set()
            assert release.wait(30)
        return send(session, invitation_id, **kwargs)

    monkeypatch.setattr(invitations, "send_invitation", held_send)
    reports: dict[str, TickReport] = {}
    first = threading.Thread(
        target=lambda: reports.setdefault("first", tick(stack.db, clock, stack.publisher)),
        name="first",
    )
    first.start()
    try:
        assert inside.wait(30)
        second = tick(stack.db, clock, stack.publisher)
    finally:
        release.set()
        first.join(30)
    assert (second.jobs_passed, second.invitations_sent) == (1, 0)
    assert (reports["first"].jobs_passed, reports["first"].invitations_sent) == (0, 3)
    assert sorted(sent_by.values()) == ["first"] * 3
