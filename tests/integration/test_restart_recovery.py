"""What `attune serve` picks up at start-up (shared.embedded.restart), row by row.

On the embedded database only: the recovery runs in the one process that holds the file's
lock, which is what makes every claim it finds an orphan.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlmodel import select

from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.embedded.restart import REPLAY_WINDOW, recover
from shared.models import Notification, NotificationKind, NotificationStatus, OutboxEvent
from shared.notifications.queue import DELIVER_NOTIFICATION, SWEEP_AFTER
from shared.practice.service import sign_up
from tests.conftest import START


class Recording:
    def __init__(self) -> None:
        self.published: list[tuple[str, list[object]]] = []

    def publish(self, actor: str, args: Sequence[object]) -> None:
        self.published.append((actor, list(args)))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'attune.db'}"
    upgrade(url)
    db = create_database(url)
    yield db
    db.dispose()


def _notification(practice_id: UUID, status: NotificationStatus, attempts: int) -> Notification:
    return Notification(
        practice_id=practice_id,
        key=f"survey:{uuid4()}",
        kind=NotificationKind.SURVEY,
        subject_id=uuid4(),
        status=status,
        attempts=attempts,
        next_attempt_at=START + SWEEP_AFTER if attempts == 0 else START + timedelta(minutes=30),
        claimed_at=START - timedelta(seconds=5) if status is NotificationStatus.SENDING else None,
        created_at=START - timedelta(minutes=1),
    )


def test_recovery_releases_orphans_and_replays_the_last_day(embedded: Database) -> None:
    practice_id = uuid4()
    with embedded.transaction(practice_id) as session:
        sign_up(
            session,
            practice_id=practice_id,
            practice_name="Restarted",
            owner_email="owner@restarted.example.com",
            owner_name="Olive",
            password="correct horse battery",
            timezone="UTC",
            now=START,
        )
        rows = {
            "sending": _notification(practice_id, NotificationStatus.SENDING, 1),
            "never_tried": _notification(practice_id, NotificationStatus.PENDING, 0),
            "backing_off": _notification(practice_id, NotificationStatus.PENDING, 2),
            "sent": _notification(practice_id, NotificationStatus.SENT, 1),
        }
        session.add_all(rows.values())
        for actor, published_at in (
            ("evaluate_response", START - timedelta(hours=1)),
            ("schedule_invitation", START - timedelta(minutes=5)),
            ("schedule_invitation", START - REPLAY_WINDOW - timedelta(minutes=1)),  # too old
            (DELIVER_NOTIFICATION, START - timedelta(minutes=1)),  # the sweep's job
            ("evaluate_response", None),  # not relayed yet: the relay's job
        ):
            session.add(
                OutboxEvent(
                    practice_id=practice_id,
                    actor=actor,
                    args=[str(practice_id), str(uuid4())],
                    created_at=START - timedelta(days=2),
                    published_at=published_at,
                )
            )

    publisher = Recording()
    recovered = recover(embedded, publisher, now=START)

    assert (recovered.claims_released, recovered.emails_due_now) == (1, 1)
    assert [actor for actor, _ in publisher.published] == [
        "evaluate_response",
        "schedule_invitation",
    ]
    assert recovered.events_replayed == 2
    with embedded.transaction(practice_id) as session:
        after = {
            name: session.exec(select(Notification).where(Notification.id == row.id)).one()
            for name, row in rows.items()
        }
    assert after["sending"].status is NotificationStatus.PENDING
    assert after["sending"].next_attempt_at == START
    assert after["never_tried"].next_attempt_at == START
    # A retry waiting out its backoff keeps its time; what is sent stays sent.
    assert after["backing_off"].next_attempt_at == START + timedelta(minutes=30)
    assert after["sent"].status is NotificationStatus.SENT
