"""What is done with goes after the retention period, and nothing still in use goes with it.

Runs the real loop (a survey sent, answered, sign-ins ended), then moves the clock past the
period and lets the scheduler tick: published outbox events, expired links and ended sign-ins
are deleted, in every practice, as the application's own role on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import AccessToken, AuthSession, OutboxEvent
from shared.retention import DEFAULT_RETENTION, purge_expired
from tests.conftest import START
from tests.support.answers import ANSWERS
from tests.support.inspection import everything
from tests.support.links import survey_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import CLIENT_EMAIL, create_practice


def rows(stack: Stack, model: type) -> list[object]:
    with everything(stack) as session:
        found = list(session.exec(select(model)).all())
        for row in found:
            session.expunge(row)
        return found


def test_old_outbox_events_links_and_sessions_are_purged_and_current_ones_kept(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    first = create_practice(http)
    second = create_practice(http, slug="second")
    first.book("visit-1", START - timedelta(hours=1))
    first.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    [email] = addressed_to(sink, CLIENT_EMAIL)
    assert http.post(survey_path(email), data=ANSWERS).status_code == 200
    tick_and_settle(stack)
    assert http.post("/api/v1/auth/logout", headers=second.as_clinician()).status_code in (
        200,
        204,
    )
    assert rows(stack, OutboxEvent) and all(e.published_at for e in rows(stack, OutboxEvent))
    links_before = rows(stack, AccessToken)
    assert {link.purpose for link in links_before} >= {"survey", "unsubscribe"}

    # Within the period nothing goes, whatever has expired.
    clock.advance(timedelta(days=20))
    assert purge_expired(stack.db, now=clock.now()).total == 0

    # Past it: everything done with before the cutoff goes, in both practices.
    clock.advance(DEFAULT_RETENTION)
    first.log_in_again()  # a sign-in made now is current and stays
    tick_and_settle(stack)
    assert rows(stack, OutboxEvent) == [] or all(
        e.published_at is None or e.published_at >= clock.now() - DEFAULT_RETENTION  # type: ignore[attr-defined]
        for e in rows(stack, OutboxEvent)
    )
    kept_links = rows(stack, AccessToken)
    for link in kept_links:
        assert link.expires_at is None or link.expires_at >= clock.now() - DEFAULT_RETENTION  # type: ignore[attr-defined]
    assert len(kept_links) < len(links_before)
    sessions = rows(stack, AuthSession)
    assert sessions, "the sign-ins made just now are kept"
    for kept in sessions:
        assert kept.expires_at >= clock.now() - DEFAULT_RETENTION  # type: ignore[attr-defined]
        assert kept.revoked_at is None  # type: ignore[attr-defined]
    assert http.get("/api/v1/me", headers=first.as_owner()).status_code == 200

    # A second run (another scheduler replica) finds nothing more.
    assert purge_expired(stack.db, now=clock.now()).total == 0


def test_a_shorter_period_purges_sooner_and_a_batch_drains_over_ticks(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    for _ in range(4):
        assert http.post("/api/v1/auth/logout", headers=practice.as_owner()).status_code in (
            200,
            204,
        )
        practice.log_in_again()
    clock.advance(timedelta(days=2))
    ended = [s for s in rows(stack, AuthSession) if s.revoked_at is not None]  # type: ignore[attr-defined]
    assert len(ended) == 4
    total = len(rows(stack, AuthSession))  # every one expired 8 hours after it began
    assert purge_expired(stack.db, now=clock.now(), keep=timedelta(days=3)).total == 0
    drained = []
    while count := purge_expired(stack.db, now=clock.now(), keep=timedelta(days=1), batch=3).counts[
        "sessions"
    ]:
        drained.append(count)
    assert drained == [3] * (total // 3) + ([total % 3] if total % 3 else [])
    assert rows(stack, AuthSession) == []
