"""The scheduler's acts, called directly: each decides everything in its one conditional claim,
does its work once, and queues exactly one message naming the email it queued."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.models import (
    Invitation,
    InvitationStatus,
    Notification,
    NotificationKind,
    OutboxEvent,
)
from shared.notifications.queue import DELIVER_NOTIFICATION, queue_notification
from shared.practice.service import current_settings
from shared.scheduling.timing import reminder_at
from shared.survey.invitations import send_invitation
from shared.survey.opt_out import opt_out
from tests.conftest import START
from tests.support.inspection import everything
from tests.support.loop import settle
from tests.support.practice import PracticeFixture, create_practice


def _held_session_with_next(
    http: httpx.Client, stack: Stack, clock: ManualClock, next_in: timedelta
) -> tuple[PracticeFixture, Invitation]:
    practice = create_practice(http)
    changed = http.patch(
        "/api/v1/settings",
        json={"timing": {"reminder_after_hours": 24, "quiet_hours": None}},
        headers=practice.as_owner(),
    )
    assert changed.status_code == 200, changed.text
    practice.book("held", START - timedelta(hours=1))
    practice.book("next", START + next_in)
    practice.complete("held")
    settle(stack)
    clock.advance(timedelta(hours=2))  # past the survey delay
    with everything(stack) as session:
        invitation = session.exec(select(Invitation)).one()
        session.expunge(invitation)
    assert invitation.status is InvitationStatus.SCHEDULED
    return practice, invitation


def _events_for(stack: Stack, notification_id: UUID) -> list[OutboxEvent]:
    with everything(stack) as session:
        events = session.exec(
            select(OutboxEvent).where(col(OutboxEvent.actor) == DELIVER_NOTIFICATION)
        ).all()
        return [event for event in events if event.args[1] == str(notification_id)]


def test_a_send_sets_its_times_in_its_claim_and_queues_one_email(
    http: httpx.Client, stack: Stack, clock: ManualClock
) -> None:
    next_start = START + timedelta(days=2)  # sooner than the 72-hour expiry
    practice, invitation = _held_session_with_next(http, stack, clock, next_start - START)
    practice_id = UUID(practice.practice_id)
    now = clock.now()

    with stack.db.transaction(practice_id) as session:
        assert send_invitation(session, invitation.id, now=now)
    with stack.db.transaction(practice_id) as session:
        assert not send_invitation(session, invitation.id, now=now)  # a second replica
        timing = current_settings(session, practice_id).settings.timing

    with everything(stack) as session:
        sent = session.get(Invitation, invitation.id)
        emails = session.exec(select(Notification)).all()
    assert sent is not None
    assert (sent.status, sent.sent_at, sent.expires_at) == (InvitationStatus.SENT, now, next_start)
    expected_reminder = reminder_at(now, timing, ZoneInfo("Europe/London"), expires_at=next_start)
    assert expected_reminder is not None
    assert sent.reminder_at == expected_reminder
    assert [(e.key, e.kind, e.subject_id) for e in emails] == [
        (f"survey:{invitation.id}", NotificationKind.SURVEY, invitation.id)
    ]
    assert len(_events_for(stack, emails[0].id)) == 1


def test_an_opted_out_client_has_the_invitation_withheld_and_no_email(
    http: httpx.Client, stack: Stack, clock: ManualClock
) -> None:
    practice, invitation = _held_session_with_next(http, stack, clock, timedelta(days=7))
    practice_id = UUID(practice.practice_id)
    with stack.db.transaction(practice_id) as session:
        opt_out(session, invitation.client_id, now=clock.now())
    with stack.db.transaction(practice_id) as session:
        assert not send_invitation(session, invitation.id, now=clock.now())
    with everything(stack) as session:
        withheld = session.get(Invitation, invitation.id)
        emails = session.exec(select(Notification)).all()
    assert withheld is not None
    assert (withheld.status, withheld.sent_at) == (InvitationStatus.WITHHELD, None)
    assert emails == []


def test_an_email_queued_again_is_the_same_row_and_its_message_names_it(
    http: httpx.Client, stack: Stack, clock: ManualClock
) -> None:
    practice, invitation = _held_session_with_next(http, stack, clock, timedelta(days=7))
    practice_id = UUID(practice.practice_id)
    queued = []
    for _ in range(2):
        with stack.db.transaction(practice_id) as session:
            queued.append(
                queue_notification(
                    session,
                    practice_id=practice_id,
                    kind=NotificationKind.SURVEY,
                    key=f"survey:{invitation.id}",
                    subject_id=invitation.id,
                    now=clock.now(),
                )
            )
    assert queued[0] == queued[1]
    with everything(stack) as session:
        assert [n.id for n in session.exec(select(Notification)).all()] == [queued[0]]
    assert len(_events_for(stack, queued[0])) == 2
