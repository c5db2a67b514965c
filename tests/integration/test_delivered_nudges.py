"""A nudge counts as delivered only when the relay accepted its email: queued, cancelled and
failed nudge emails are not in the owner's figures, settle no repair outcome, and show as what
they are in the notifications listing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlmodel import select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert, Nudge, NudgeStatus
from tests.conftest import START
from tests.integration.test_appointments import CLIENT_EMAIL, make_dip
from tests.support.inspection import everything
from tests.support.loop import Nowhere, addressed_to, links, tick_and_settle
from tests.support.practice import PracticeFixture

NUDGE_DUE = START + timedelta(days=6, seconds=1)
STEADY = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}


def _figures(practice: PracticeFixture) -> dict[str, Any]:
    answer = practice.http.get(
        "/api/v1/figures",
        params={"first_day": "2026-03-01", "last_day": "2026-03-31"},
        headers=practice.as_owner(),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["overall"]  # type: ignore[no-any-return]


def _nudge_emails(practice: PracticeFixture) -> list[str]:
    listed = practice.http.get(
        "/api/v1/notifications", params={"kind": "nudge"}, headers=practice.as_owner()
    )
    assert listed.status_code == 200, listed.text
    return [row["status"] for row in listed.json()]


def _queue_the_nudge_but_lose_its_message(
    stack: Stack, clock: ManualClock, practice: PracticeFixture
) -> None:
    clock.set(NUDGE_DUE)
    assert tick(stack.db, clock, Nowhere()).nudges_sent == 1
    practice.log_in_again()  # six days on: the sign-in of the setup has expired
    with everything(stack) as session:
        assert session.exec(select(Nudge.status)).one() is NudgeStatus.SENT


def _answer_after_the_nudged_session(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> Alert:
    clock.set(START + timedelta(days=7, hours=1))
    practice.log_in_again()
    practice.complete("visit-2")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, CLIENT_EMAIL)[-1]
    url = next(link for link in links(survey) if "/s/" in link and "?" not in link)
    assert http.post(url.removeprefix("http://attune.test"), data=STEADY).status_code == 200
    tick_and_settle(stack)
    with everything(stack) as session:
        return Alert.model_validate(session.exec(select(Alert)).one())


def test_a_queued_nudge_is_not_delivered_until_the_relay_accepts_it(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, _ = make_dip(stack, http, sink, clock)
    _queue_the_nudge_but_lose_its_message(stack, clock, practice)
    assert _nudge_emails(practice) == ["pending"]
    assert _figures(practice)["nudges_sent"] == 0

    clock.advance(timedelta(minutes=6))  # the sweep puts the lost message back
    practice.log_in_again()
    tick_and_settle(stack)
    assert len(addressed_to(sink, practice.clinician["email"])) == 1
    assert _nudge_emails(practice) == ["sent"]
    assert _figures(practice)["nudges_sent"] == 1

    alert = _answer_after_the_nudged_session(stack, http, sink, clock, practice)
    assert alert.repair == "repaired"
    assert _figures(practice)["repair_rate"] == 1.0


def test_a_cancelled_nudge_counts_nowhere_and_settles_no_repair(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, _ = make_dip(stack, http, sink, clock)
    _queue_the_nudge_but_lose_its_message(stack, clock, practice)
    # The clinician has seen the alert before its email went: the email has nothing to say.
    with everything(stack) as session:
        alert_id = session.exec(select(Alert.id)).one()
    practice.log_in_again()
    acknowledged = http.post(
        f"/api/v1/alerts/{alert_id}/acknowledge", headers=practice.as_clinician()
    )
    assert acknowledged.status_code == 200, acknowledged.text
    clock.advance(timedelta(minutes=6))
    tick_and_settle(stack)
    assert addressed_to(sink, practice.clinician["email"]) == []
    assert _nudge_emails(practice) == ["cancelled"]
    assert _figures(practice)["nudges_sent"] == 0

    alert = _answer_after_the_nudged_session(stack, http, sink, clock, practice)
    # No nudge reached the clinician, so the answer says nothing about a repair.
    assert alert.repair is None
    figures = _figures(practice)
    assert (figures["nudges_sent"], figures["repair_rate"]) == (0, None)
