"""One bad item never stalls the tick: it is logged, held back with a growing delay and marked
failed after a bounded number of tries, while every other item and practice goes on; and the
finders are ordered, so readers past the first batch are served too."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import httpx
from sqlmodel import col, select

from services.bootstrap import Stack
from services.worker.scheduler import tick
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import (
    Account,
    Appointment,
    AppointmentStatus,
    Client,
    Invitation,
    InvitationStatus,
    Nudge,
    NudgeDelivery,
    NudgeDigest,
    NudgePreference,
    NudgeStatus,
    Role,
    WorkFailure,
)
from shared.survey.invitations import due_invitations
from shared.work.failures import (
    MAX_TRIES,
    failure_counts,
    held_back,
    record_failure,
    retry_after,
)
from tests.conftest import START
from tests.support.failing import store_settings_body, stored_settings_body
from tests.support.inspection import everything
from tests.support.loop import addressed_to, settle
from tests.support.practice import create_practice


def _poison_settings(stack: Stack, practice_id: str) -> None:
    """A stored settings document that no longer parses: every act that reads the practice's
    settings raises, as the zone-aware quiet hours of issue 11 did."""
    store_settings_body(stack, practice_id, {"timing": "not a timing"})


def _invitation_of(stack: Stack, practice_id: str) -> Invitation:
    with everything(stack) as session:
        return Invitation.model_validate(
            session.exec(
                select(Invitation).where(Invitation.practice_id == UUID(practice_id))
            ).one()
        )


def _failure(stack: Stack, item_id: UUID) -> WorkFailure | None:
    with everything(stack) as session:
        row = session.exec(select(WorkFailure).where(WorkFailure.item_id == item_id)).first()
        return None if row is None else WorkFailure.model_validate(row)


def test_a_poisoned_invitation_is_held_back_and_every_other_one_goes_out(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    poisoned = create_practice(http, name="Broken Practice", slug="broken")
    healthy = create_practice(http, name="Harbour Counselling", slug="harbour")
    # The poisoned practice's session was completed first, so its invitation is the oldest due.
    poisoned.book("p-1", START - timedelta(hours=3))
    poisoned.complete("p-1")
    clock.advance(timedelta(minutes=5))
    healthy.book("h-1", START - timedelta(hours=2))
    healthy.complete("h-1")
    clock.advance(timedelta(minutes=5))
    healthy.book("h-2", START - timedelta(hours=1))
    healthy.complete("h-2")
    settle(stack)
    _poison_settings(stack, poisoned.practice_id)
    stuck = _invitation_of(stack, poisoned.practice_id)
    clock.advance(timedelta(hours=2))

    # Batches of one: before, the poisoned invitation came first in every batch and stopped
    # the tick, so nothing behind it ever went.
    first = tick(stack.db, clock, stack.publisher, batch=1)
    assert (first.invitations_sent, first.items_failed) == (0, 1)
    assert first.failures == [f"send_invitation:{stuck.id}"]
    second = tick(stack.db, clock, stack.publisher, batch=1)
    third = tick(stack.db, clock, stack.publisher, batch=1)
    assert (second.invitations_sent, second.items_failed) == (1, 0)
    assert (third.invitations_sent, third.items_failed) == (1, 0)
    settle(stack)
    assert len(addressed_to(sink, "robin.client@harbour.example.com")) == 2
    assert addressed_to(sink, "robin.client@broken.example.com") == []

    failure = _failure(stack, stuck.id)
    assert failure is not None
    assert (failure.job, failure.attempts, failure.failed_at) == ("send_invitation", 1, None)
    assert failure.retry_at == clock.now() + retry_after(1)  # type: ignore[operator]
    assert failure.last_error == "ValidationError"
    with stack.db.across_practices() as session:
        assert due_invitations(session, now=clock.now(), limit=10) == []

    # Retried when its delay is over, with a growing delay, until it is marked failed.
    for attempt in range(2, MAX_TRIES + 1):
        clock.advance(retry_after(attempt - 1) or timedelta(0))
        report = tick(stack.db, clock, stack.publisher)
        assert report.items_failed == 1
        failure = _failure(stack, stuck.id)
        assert failure is not None and failure.attempts == attempt
    assert failure.failed_at == clock.now()
    assert failure.retry_at is None
    clock.advance(timedelta(days=1))
    assert tick(stack.db, clock, stack.publisher).items_failed == 0
    with stack.db.across_practices() as session:
        assert due_invitations(session, now=clock.now(), limit=10) == []
    assert _invitation_of(stack, poisoned.practice_id).status is InvitationStatus.SCHEDULED


def test_a_held_back_item_that_then_goes_out_stops_counting_as_retrying(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice.book("v-1", START - timedelta(hours=1))
    practice.complete("v-1")
    settle(stack)
    good = stored_settings_body(stack, practice.practice_id)
    _poison_settings(stack, practice.practice_id)
    stuck = _invitation_of(stack, practice.practice_id)
    clock.advance(timedelta(hours=2))
    assert tick(stack.db, clock, stack.publisher).items_failed == 1
    with stack.db.across_practices() as session:
        assert failure_counts(session) == {("send_invitation", "retrying"): 1}

    # The cause goes away; the next try goes through, and its failure is cleared with it:
    # before, the row kept its retry time and was counted as retrying for good.
    store_settings_body(stack, practice.practice_id, good)
    clock.advance(retry_after(1) or timedelta(0))
    assert tick(stack.db, clock, stack.publisher).invitations_sent == 1
    with stack.db.across_practices() as session:
        assert failure_counts(session) == {}
    failure = _failure(stack, stuck.id)
    assert failure is not None
    assert (failure.attempts, failure.retry_at, failure.failed_at) == (0, None, None)
    settle(stack)
    assert len(addressed_to(sink, practice.client["email"])) == 1

    # A later failure of the same item starts again from its first try.
    with stack.db.across_practices() as session:
        assert held_back(session, "send_invitation", [stuck.id]) == {}
    assert (
        record_failure(
            stack.db,
            UUID(practice.practice_id),
            "send_invitation",
            stuck.id,
            RuntimeError(),
            now=clock.now(),
        ).attempts
        == 1
    )


def _digest_reader(
    stack: Stack, practice_id: UUID, number: int, *, reader_id: UUID, digest_hour: int
) -> None:
    """A clinician on the morning digest with one pending nudge for a session this afternoon."""
    with everything(stack) as session:
        session.add(
            Account(
                id=reader_id,
                practice_id=practice_id,
                email=f"reader.{number}@harbour.example.com",
                name=f"Reader {number}",
                role=Role.CLINICIAN,
                timezone="UTC",
                created_at=START,
            )
        )
        session.flush()
        session.add(
            NudgePreference(
                account_id=reader_id,
                practice_id=practice_id,
                delivery=NudgeDelivery.DAILY_DIGEST,
                digest_hour=digest_hour,
                updated_at=START,
            )
        )
        client = Client(
            practice_id=practice_id,
            clinician_id=reader_id,
            reference=f"RC-{3000 + number}",
            email=f"client.{number}@readers.example.org",
            created_at=START,
        )
        session.add(client)
        session.flush()
        appointment = Appointment(
            practice_id=practice_id,
            client_id=client.id,
            clinician_id=reader_id,
            starts_at=START.replace(hour=15),
            ends_at=START.replace(hour=15, minute=50),
            status=AppointmentStatus.SCHEDULED,
            updated_at=START,
        )
        session.add(appointment)
        session.flush()
        session.add(
            Nudge(
                practice_id=practice_id,
                appointment_id=appointment.id,
                clinician_id=reader_id,
                status=NudgeStatus.PENDING,
                due_at=START.replace(hour=14),
                created_at=START,
            )
        )


def test_digest_readers_past_the_first_batch_are_served(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice_id = UUID(practice.practice_id)
    # Readers whose digest hour has not come sort first by id and stay due all morning; the
    # readers whose hour has come sort after them, beyond the first batches.
    waiting = [UUID(int=n) for n in range(1, 7)]
    ready = [UUID(int=(1 << 127) + n) for n in range(1, 7)]
    for number, reader_id in enumerate(waiting, start=1):
        _digest_reader(stack, practice_id, number, reader_id=reader_id, digest_hour=11)
    for number, reader_id in enumerate(ready, start=len(waiting) + 1):
        _digest_reader(stack, practice_id, number, reader_id=reader_id, digest_hour=7)
    clock.set(START.replace(hour=7, minute=30))

    # Twelve readers in batches of five: within three ticks each one has been looked at.
    made = sum(tick(stack.db, clock, stack.publisher, batch=5).digests_sent for _ in range(3))
    assert made == len(ready)
    with everything(stack) as session:
        digests = {row.clinician_id for row in session.exec(select(NudgeDigest)).all()}
        checked = session.exec(select(NudgePreference.checked_at)).all()
    assert digests == set(ready)
    assert all(moment is not None for moment in checked)


def test_the_same_reader_is_not_looked_at_twice_before_every_other_one(
    stack: Stack, http: httpx.Client, clock: ManualClock
) -> None:
    practice = create_practice(http)
    practice_id = UUID(practice.practice_id)
    readers = [uuid4() for _ in range(7)]
    for number, reader_id in enumerate(readers, start=1):
        _digest_reader(stack, practice_id, number, reader_id=reader_id, digest_hour=11)
    clock.set(START.replace(hour=7, minute=30))
    seen: list[set[UUID]] = []
    for _ in range(2):
        tick(stack.db, clock, stack.publisher, batch=4)
        clock.advance(timedelta(seconds=2))
        with everything(stack) as session:
            seen.append(
                set(
                    session.exec(
                        select(NudgePreference.account_id).where(
                            col(NudgePreference.checked_at).is_not(None)
                        )
                    ).all()
                )
            )
    assert len(seen[0]) == 4
    assert seen[1] == set(readers)
