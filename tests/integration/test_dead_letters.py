"""A message the broker gives up on is counted where an operator looks, and its work is not
forgotten: the answer's evaluation is held back by the sweep with the same bounded tries."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Response, WorkFailure
from shared.settings import Settings
from shared.survey.invitations import SCHEDULING_SWEEP_AFTER
from shared.survey.responses import EVALUATE_RESPONSE
from tests.support.answers import answer_a_survey
from tests.support.failing import UNPARSABLE_RULES, dead_letter_after_one_retry, store_settings_body
from tests.support.inspection import everything
from tests.support.loop import Nowhere, addressed_to, settle, tick_and_settle
from tests.support.practice import create_practice
from tests.support.processes import ATTUNE, REPO, environment


def test_a_dead_lettered_evaluation_is_recorded_counted_and_its_answer_swept(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    settings: Settings,
) -> None:
    dead_letter_after_one_retry(stack)
    practice = create_practice(http)
    answer_a_survey(practice, stack, sink, clock, visit="visit-1", evaluate=False)
    # The practice's stored settings stop parsing before the answer is evaluated: every try
    # of the message raises, and the broker gives up on it.
    store_settings_body(stack, practice.practice_id, UNPARSABLE_RULES)
    with everything(stack) as session:
        response_id = session.exec(select(Response.id)).one()
    settle(stack)

    with everything(stack) as session:
        dead = WorkFailure.model_validate(
            session.exec(
                select(WorkFailure).where(WorkFailure.job == f"message:{EVALUATE_RESPONSE}")
            ).one()
        )
    assert dead.item_id == response_id
    assert dead.failed_at is not None
    assert str(dead.practice_id) == practice.practice_id

    # The sweep tries the answer itself and, as the settings still fail, holds it back.
    clock.advance(EVALUATION_SWEEP_AFTER + timedelta(seconds=1))
    report = tick(stack.db, clock, stack.publisher)
    assert (report.answers_evaluated_late, report.items_failed) == (0, 1)
    assert tick(stack.db, clock, stack.publisher).items_failed == 0  # held back, not first

    # What an operator runs: the real command, in its own process.
    counted = subprocess.run(
        [*ATTUNE, "work-failures"],
        env=environment(settings),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = counted.stdout.splitlines()
    assert f"message:{EVALUATE_RESPONSE}\tfailed\t1" in printed
    assert "evaluate_late_response\tretrying\t1" in printed


def test_a_completed_session_whose_message_was_lost_still_gets_its_survey(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    # The relay hands schedule_invitation to a broker that loses it.
    assert tick(stack.db, clock, Nowhere()).published == 1
    clock.advance(SCHEDULING_SWEEP_AFTER - timedelta(seconds=1))
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 0
    clock.advance(timedelta(seconds=2))
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 1
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 0
    clock.advance(timedelta(hours=1))
    tick_and_settle(stack)
    assert len(addressed_to(sink, practice.client["email"])) == 1
