"""An operator clears failed work so it is done again: `attune work-failures --retry JOB
[--item ID]`. A scheduler job's item is offered by its finder again; a dead letter's message is
published again through the outbox while its item still needs it. Audited, idempotent, and an
unknown job or item is a clear error."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from services.cli import known_jobs
from services.worker.actors import ACTORS
from services.worker.scheduler import tick
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.audit import OPERATOR_ID, AuditAction
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert, AuditEvent, OutboxEvent, Response
from shared.settings import Settings
from shared.survey.responses import EVALUATE_RESPONSE
from shared.work.failures import record_failure
from shared.work.retry import STILL_NEEDED, UnknownWork, retry_failed
from tests.conftest import START
from tests.support.answers import answer_a_survey
from tests.support.failing import (
    UNPARSABLE_RULES,
    dead_letter_after_one_retry,
    store_settings_body,
    stored_settings_body,
)
from tests.support.history import answered_session
from tests.support.inspection import everything
from tests.support.loop import settle
from tests.support.practice import create_practice
from tests.support.processes import ATTUNE, REPO, environment

DEAD = f"message:{EVALUATE_RESPONSE}"


def attune(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ATTUNE, "work-failures", *args],
        env=environment(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_dead_letter_retried_is_evaluated_once_and_audited(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, settings: Settings
) -> None:
    dead_letter_after_one_retry(stack)
    practice = create_practice(http)
    pid = UUID(practice.practice_id)
    answer_a_survey(practice, stack, sink, clock, visit="visit-1", evaluate=False)
    # The settings stop parsing before the answer is evaluated: its message is dead-lettered,
    # and the sweep's try is held back.
    good = stored_settings_body(stack, pid)
    with everything(stack) as session:
        response_id = session.exec(select(Response.id)).one()
    store_settings_body(stack, pid, UNPARSABLE_RULES)
    settle(stack)
    clock.advance(EVALUATION_SWEEP_AFTER + timedelta(seconds=1))
    assert tick(stack.db, clock, stack.publisher).items_failed == 1
    store_settings_body(stack, pid, good)  # what the operator fixed

    retried = attune(settings, "--retry", DEAD, "--item", str(response_id))
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.strip() == f"{DEAD}: 1 cleared (1 published again), 0 already retried"
    settle(stack)
    with everything(stack) as session:
        response = session.get(Response, response_id)
        assert response is not None and response.evaluated_at is not None
        assert len(session.exec(select(Alert)).all()) == 1
        published = len(session.exec(select(OutboxEvent)).all())

    # Again: nothing cleared, nothing published.
    again = attune(settings, "--retry", DEAD, "--item", str(response_id))
    assert again.stdout.strip() == f"{DEAD}: 0 cleared (0 published again), 1 already retried"
    # The sweep's held-back try: cleared, nothing to publish (the finder offers it, and finds
    # the answer evaluated).
    swept = attune(settings, "--retry", "evaluate_late_response")
    assert swept.stdout.strip() == (
        "evaluate_late_response: 1 cleared (0 published again), 0 already retried"
    )
    assert attune(settings).stdout.strip() == "no failed work"
    with everything(stack) as session:
        assert len(session.exec(select(OutboxEvent)).all()) == published
        assert len(session.exec(select(Alert)).all()) == 1
        audited = session.exec(
            select(AuditEvent).where(AuditEvent.action == AuditAction.WORK_RETRIED.value)
        ).all()
    assert sorted((e.detail["job"], e.detail["republished"]) for e in audited) == [
        ("evaluate_late_response", 0),
        (DEAD, 1),
    ]
    assert {(e.actor_kind, e.actor_id, e.subject_id, e.practice_id) for e in audited} == {
        ("operator", OPERATOR_ID, response_id, pid)
    }

    unknown = attune(settings, "--retry", "send_everything")
    assert unknown.returncode != 0
    assert "unknown job 'send_everything'; the jobs are: " in unknown.stderr
    assert "message:deliver_notification" in unknown.stderr
    nobody = uuid4()
    missing = attune(settings, "--retry", DEAD, "--item", str(nobody))
    assert missing.returncode != 0
    assert f"no failure is recorded for job {DEAD!r} and item {nobody}" in missing.stderr
    assert "is not an item id" in attune(settings, "--retry", DEAD, "--item", "42").stderr
    assert "needs --retry" in attune(settings, "--item", str(nobody)).stderr


def test_a_failed_scheduler_item_is_offered_again_after_a_retry(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    pid = UUID(practice.practice_id)
    answer = answered_session(
        stack.db,
        pid,
        UUID(practice.client["id"]),
        UUID(practice.clinician["id"]),
        at=START,
        evaluate=False,
    )
    record_failure(
        stack.db, pid, "evaluate_late_response", answer, RuntimeError(), now=START, final=True
    )
    clock.set(START + EVALUATION_SWEEP_AFTER + timedelta(minutes=1))
    assert tick(stack.db, clock, stack.publisher).answers_evaluated_late == 0  # given up on

    done = retry_failed(
        stack.db, "evaluate_late_response", known_jobs=known_jobs(), now=clock.now()
    )
    assert (done.cleared, done.republished, done.already) == (1, 0, 0)
    assert tick(stack.db, clock, stack.publisher).answers_evaluated_late == 1
    with pytest.raises(UnknownWork, match="no failure is recorded"):
        retry_failed(
            stack.db, "send_nudge", item_id=answer, known_jobs=known_jobs(), now=clock.now()
        )


def test_every_actor_says_when_its_message_is_still_needed() -> None:
    assert set(STILL_NEEDED) == set(ACTORS)
