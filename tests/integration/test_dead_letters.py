"""A message the broker gives up on is counted where an operator looks, and its work is not
forgotten: the answer's evaluation is held back by the sweep with the same bounded tries."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from uuid import UUID

import httpx
from sqlalchemy import update
from sqlmodel import col, select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import PracticeSettingsVersion, Response, WorkFailure
from shared.settings import Settings
from shared.survey.invitations import SCHEDULING_SWEEP_AFTER
from shared.survey.responses import EVALUATE_RESPONSE
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links, settle, tick_and_settle
from tests.support.practice import create_practice
from tests.support.processes import ATTUNE, REPO, environment

LOW = {"honest": "1", "disagree": "2", "respected": "2", "input": "3", "pace": "1"}


def test_a_dead_lettered_evaluation_is_recorded_counted_and_its_answer_swept(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    settings: Settings,
) -> None:
    evaluate = stack.broker.get_actor(EVALUATE_RESPONSE)
    evaluate.options.update(max_retries=1, min_backoff=10, max_backoff=20)
    # The embedded broker's join would re-raise the dead letter's error; the point here is
    # what happens after it, as in production where nothing re-raises.
    stack.broker.fail_fast_default = False  # type: ignore[attr-defined]
    practice = create_practice(http)
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    [survey] = addressed_to(sink, practice.client["email"])
    url = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    assert http.post(url.removeprefix("http://attune.test"), data=LOW).status_code == 200
    # The practice's stored settings stop parsing before the answer is evaluated: every try
    # of the message raises, and the broker gives up on it.
    with everything(stack) as session:
        session.execute(
            update(PracticeSettingsVersion)
            .where(col(PracticeSettingsVersion.practice_id) == UUID(practice.practice_id))
            .values(body={"rules": "not rules"})
        )
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


class _Nowhere:
    """A broker that loses every message."""

    def publish(self, actor: str, args: object) -> None:
        return None


def test_a_completed_session_whose_message_was_lost_still_gets_its_survey(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice.book("visit-1", clock.now() - timedelta(hours=1))
    practice.complete("visit-1")
    # The relay hands schedule_invitation to a broker that loses it.
    assert tick(stack.db, clock, _Nowhere()).published == 1
    clock.advance(SCHEDULING_SWEEP_AFTER - timedelta(seconds=1))
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 0
    clock.advance(timedelta(seconds=2))
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 1
    assert tick(stack.db, clock, stack.publisher).invitations_scheduled_late == 0
    clock.advance(timedelta(hours=1))
    tick_and_settle(stack)
    assert len(addressed_to(sink, practice.client["email"])) == 1
