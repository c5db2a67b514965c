"""Send one notification, at most once per claim, and record how it went."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC
from datetime import datetime as datetime_t
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

import psycopg
from sqlalchemy import ColumnElement, Update, and_, bindparam, or_, true, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from shared.clock import Clock
from shared.db import Database
from shared.db.claim import claim_row, claiming
from shared.db.compiled import CompiledStatement
from shared.db.due import find_due
from shared.db.engine import SET_PRACTICE
from shared.email.message import OutgoingEmail
from shared.email.smtp import PermanentDeliveryError, TransientDeliveryError, retry_delay
from shared.errors import NotFound
from shared.models import Notification, NotificationKind, NotificationStatus, WorkerHeartbeat
from shared.notifications.compose import (
    ISSUE_TOKENS,
    ClaimedNotification,
    NothingToSend,
    SurveyFacts,
    compose,
    compose_survey,
    survey_facts,
)
from shared.notifications.queue import DELIVER_NOTIFICATION, SWEEP_AFTER
from shared.outbox import emit
from shared.settings import Settings
from shared.work.heartbeats import stale_after as heartbeats_stale_after

# The default heartbeat (5 s) gone stale; the scheduler passes its own cut-off.
HEARTBEAT_STALE = heartbeats_stale_after(5.0)
# A claim that names no worker (made before heartbeats, or by a caller without one) is handed
# back after this long.
CLAIM_LIMIT = 2 * SWEEP_AFTER


_NOTIFICATION = Notification.__table__  # type: ignore[attr-defined]

# What a claim returns: ClaimedNotification.
_CLAIMED = (
    _NOTIFICATION.c.id,
    _NOTIFICATION.c.practice_id,
    _NOTIFICATION.c.key,
    _NOTIFICATION.c.kind,
    _NOTIFICATION.c.subject_id,
    _NOTIFICATION.c.attempts,
)
# The send path's statements are built once, with bound parameters: building them anew was
# a tenth of a worker's CPU per email.
_CLAIM = claiming(
    Notification,
    bindparam("notification_id"),
    col(Notification.status) == NotificationStatus.PENDING,
    status=NotificationStatus.SENDING,
    claimed_at=bindparam("now"),
    claimed_by=bindparam("worker_id"),
    attempts=Notification.attempts + 1,
).returning(*_CLAIMED)

# A survey email's claim and the read of what it needs, in one statement (PostgreSQL): the
# same claim, taking only a survey email (every value a named parameter: SQLAlchemy loses the
# values of literals inside a data-modifying CTE), joined to survey_facts for the invitation
# it took.
_CLAIMED_SURVEY = (
    claiming(
        Notification,
        bindparam("notification_id"),
        col(Notification.status) == bindparam("pending"),
        or_(
            col(Notification.kind) == bindparam("survey"),
            col(Notification.kind) == bindparam("reminder"),
        ),
        status=bindparam("sending"),
        claimed_at=bindparam("now"),
        claimed_by=bindparam("worker_id"),
        attempts=Notification.attempts + bindparam("one"),
    )
    .returning(*_CLAIMED)
    .cte("claimed")
)
_SURVEY = survey_facts(_CLAIMED_SURVEY.c.subject_id).lateral("survey")
_CLAIM_SURVEY_SQL = CompiledStatement.of(
    sa_select(*_CLAIMED_SURVEY.c, *_SURVEY.c).select_from(
        _CLAIMED_SURVEY.outerjoin(_SURVEY, true())
    )
)
_CLAIM_SURVEY_VALUES = {
    "pending": NotificationStatus.PENDING,
    "survey": NotificationKind.SURVEY,
    "reminder": NotificationKind.SURVEY_REMINDER,
    "sending": NotificationStatus.SENDING,
    "one": 1,
}
_NAME_PRACTICE_SQL = CompiledStatement.of(SET_PRACTICE)
# A survey email's two links in one statement (bound as "link<n>_<column>"): one execution
# fewer than an executemany of two.
_ISSUE_TOKENS_SQL = CompiledStatement.of(
    ISSUE_TOKENS.values(
        [
            {
                column.name: bindparam(f"link{n}_{column.name}", type_=column.type)
                for column in ISSUE_TOKENS.table.columns
            }
            for n in range(2)
        ]
    )
)


class Mailer(Protocol):
    def send(self, message: OutgoingEmail, *, accepted: Callable[[], None] | None = None) -> None:
        """Deliver; call `accepted` the moment the relay has taken the message (before
        anything else, even QUIT), so it is recorded with nothing in between."""
        ...

    def close(self) -> None:
        """Let go of whatever the calling thread holds open (its SMTP connection)."""
        ...


class Outcome(StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # someone else has it, or it is done
    RETRY = "retry"
    FAILED = "failed"
    CANCELLED = "cancelled"  # nothing to say any more: see NothingToSend


def deliver(
    db: Database,
    clock: Clock,
    mailer: Mailer,
    config: Settings,
    practice_id: UUID,
    notification_id: UUID,
    *,
    worker_id: UUID | None = None,
) -> Outcome:
    if db.dialect == "postgresql":
        outcome = _deliver_survey(
            db, clock, mailer, config, practice_id, notification_id, worker_id
        )
        if outcome is not None:
            return outcome
    with db.transaction(practice_id) as session:
        now = clock.now()
        claimed = (
            session.connection()
            .execute(
                _CLAIM, {"notification_id": notification_id, "now": now, "worker_id": worker_id}
            )
            .first()
        )
        if claimed is None:
            return Outcome.SKIPPED
        notification = ClaimedNotification(*claimed)
        try:
            message = compose(session, notification, config, now=now)
        except (NothingToSend, NotFound) as nothing:
            outcome, settled = _called_off(nothing)
            _set(session, notification_id, **settled)
            return outcome
    # The record's transaction is opened (and its practice named) before the send, and holds
    # no lock while the mail server works; once the relay says 250, one UPDATE and a COMMIT
    # are all that stand between the accepted email and Attune knowing it: the at-least-once
    # window (README, "Faults and guarantees").
    with db.prepared_transaction(practice_id) as record:

        def finish(**values: object) -> None:
            _finish(record, worker_id, notification_id, **values)
            record.info["finished"] = True

        outcome = _send(mailer, message, clock, notification.attempts, finish)
    if outcome is Outcome.SENT and not record.info.get("finished"):
        # Recording failed (or the mailer returned without calling back): try again in fresh
        # transactions for a few seconds before leaving the claim to the sweep, which would
        # send it a second time.
        _record_sent_again(db, worker_id, practice_id, notification_id, clock, message.message_id)
    return outcome


def _deliver_survey(
    db: Database,
    clock: Clock,
    mailer: Mailer,
    config: Settings,
    practice_id: UUID,
    notification_id: UUID,
    worker_id: UUID | None,
) -> Outcome | None:
    """deliver() for a survey email on PostgreSQL, in three round trips on psycopg in pipeline
    mode with prepared statements (SQLAlchemy's execution and ten round trips were most of an
    email's cost), as the survey answer does (shared.survey.responses):
    1. BEGIN, naming the practice, and the claim with the read of what the email needs;
    2. the email's two links, COMMIT, and the record's transaction opened: BEGIN, naming the
       practice;
    then the send, and once the relay says 250:
    3. the UPDATE that records it, and COMMIT.
    None if the claim took nothing (another kind of email, which deliver() sends the general
    way, or one no longer pending, which that way skips)."""
    finished = False
    with db.driver_connection() as connection:
        # Our own BEGIN and COMMIT, so that each travels with the statements beside it:
        # psycopg's implicit BEGIN in a pipeline waits for its own answer (a round trip).
        connection.autocommit = True
        # One cursor for every statement: in pipeline mode a cursor holds the last result,
        # and only the claim's is read, before the next statement goes.
        cursor = connection.cursor()
        name_practice = _NAME_PRACTICE_SQL.params({"practice_id": str(practice_id)})
        try:
            with connection.pipeline():
                cursor.execute(b"BEGIN")
                cursor.execute(_NAME_PRACTICE_SQL.sql, name_practice, prepare=True)
                now = clock.now()
                claim = cursor.execute(
                    _CLAIM_SURVEY_SQL.sql,
                    _CLAIM_SURVEY_SQL.params(
                        {
                            **_CLAIM_SURVEY_VALUES,
                            "notification_id": notification_id,
                            "now": now,
                            "worker_id": worker_id,
                        }
                    ),
                    prepare=True,
                )
                found = claim.fetchone()  # round trip 1
                if found is None:
                    return None
                row = _CLAIM_SURVEY_SQL.row(found)
                notification = ClaimedNotification(*row[:6])
                facts = SurveyFacts(*row[6:]) if row[6] is not None else None
                try:
                    message, tokens = compose_survey(facts, notification, config, now=now)
                except (NothingToSend, NotFound) as nothing:
                    outcome, settled = _called_off(nothing)
                    _finish_on(cursor, worker_id, notification_id, **settled)
                    return outcome
                cursor.execute(
                    _ISSUE_TOKENS_SQL.sql,
                    _ISSUE_TOKENS_SQL.params(
                        {
                            f"link{n}_{column}": value
                            for n, token in enumerate(tokens)
                            for column, value in token.items()
                        }
                    ),
                    prepare=True,
                )
                cursor.execute(b"COMMIT")
                # The record's transaction, opened ahead of the send as deliver()'s is.
                cursor.execute(b"BEGIN")
                cursor.execute(_NAME_PRACTICE_SQL.sql, name_practice, prepare=True)
            # Leaving the pipeline sent its Sync and read every result: round trip 2.

            def finish(**values: object) -> None:
                nonlocal finished
                _finish_on(cursor, worker_id, notification_id, **values)
                finished = True

            outcome = _send(mailer, message, clock, notification.attempts, finish)
        finally:
            if not connection.broken:
                connection.rollback()  # only a failure leaves anything to roll back
                connection.autocommit = False
    if outcome is Outcome.SENT and not finished:
        # As in deliver(): the relay took it and recording it failed.
        _record_sent_again(db, worker_id, practice_id, notification_id, clock, message.message_id)
    return outcome


def _called_off(nothing: NothingToSend | NotFound) -> tuple[Outcome, dict[str, object]]:
    """How a claim ends when there is nothing to send after all: cancelled when the email has
    nothing left to say (NothingToSend), failed when what it would say is gone (NotFound)."""
    if isinstance(nothing, NothingToSend):
        return Outcome.CANCELLED, {
            "status": NotificationStatus.CANCELLED,
            "last_error": nothing.reason,
        }
    return Outcome.FAILED, {
        "status": NotificationStatus.FAILED,
        "last_error": f"nothing to send: {nothing.message}",
    }


def _send(
    mailer: Mailer,
    message: OutgoingEmail,
    clock: Clock,
    attempts: int,
    finish: Callable[..., None],
) -> Outcome:
    """Send, and record how it went with `finish` (one UPDATE and its COMMIT, in a transaction
    opened before the send). SENT even when recording it failed: the caller tries again."""
    relay_took_it = threading.Event()

    def accepted() -> None:
        relay_took_it.set()
        finish(
            status=NotificationStatus.SENT,
            sent_at=clock.now(),
            message_id=message.message_id,
            last_error=None,
        )

    try:
        mailer.send(message, accepted=accepted)
    except TransientDeliveryError as error:
        finish(
            status=NotificationStatus.PENDING,
            next_attempt_at=clock.now() + retry_delay(attempts),
            last_error=error.reason[:500],
        )
        return Outcome.RETRY
    except PermanentDeliveryError as error:
        finish(status=NotificationStatus.FAILED, last_error=error.reason[:500])
        return Outcome.FAILED
    except Exception:
        if not relay_took_it.is_set():
            raise
        # The relay took it and recording it failed (the database went away).
    return Outcome.SENT


def _set(session: Session, notification_id: UUID, **values: object) -> None:
    """Settle a claim just taken in the same transaction (the email is called off)."""
    session.connection().execute(
        update(Notification).where(col(Notification.id) == notification_id).values(**values)
    )


@functools.cache
def _finishing(columns: frozenset[str]) -> Update:
    """The UPDATE that ends a claim, setting `columns` (bound as "new_<column>"), built once per
    outcome."""
    return (
        update(_NOTIFICATION)
        .where(_NOTIFICATION.c.id == bindparam("notification_id"))
        .where(_NOTIFICATION.c.status == bindparam("sending"))
        .where(_NOTIFICATION.c.claimed_by.is_not_distinct_from(bindparam("worker_id")))
        .values({column: bindparam(f"new_{column}") for column in sorted(columns)})
    )


@functools.cache
def _finishing_sql(columns: frozenset[str]) -> CompiledStatement:
    return CompiledStatement.of(_finishing(columns))


def _finishing_values(
    worker_id: UUID | None, notification_id: UUID, values: dict[str, object]
) -> dict[str, object]:
    return {
        "notification_id": notification_id,
        "sending": NotificationStatus.SENDING,
        "worker_id": worker_id,
        **{f"new_{column}": value for column, value in values.items()},
    }


def _finish(
    record: Session, worker_id: UUID | None, notification_id: UUID, **values: object
) -> None:
    """End a claim, only while it is still ours (a claim handed back and taken by another
    worker is theirs to finish), and commit at once."""
    record.connection().execute(
        _finishing(frozenset(values)), _finishing_values(worker_id, notification_id, values)
    )
    record.commit()


def _finish_on(
    cursor: psycopg.Cursor[Any],
    worker_id: UUID | None,
    notification_id: UUID,
    **values: object,
) -> None:
    """_finish on psycopg, in the transaction the cursor's connection has open: the UPDATE and
    the COMMIT in one round trip (or in the pipeline already open)."""
    statement = _finishing_sql(frozenset(values))
    with cursor.connection.pipeline():
        cursor.execute(
            statement.sql,
            statement.params(_finishing_values(worker_id, notification_id, values)),
            prepare=True,
        )
        cursor.execute(b"COMMIT")


RECORD_RETRIES = (0.2, 0.5, 1.0, 2.0, 4.0)


def _record_sent_again(
    db: Database,
    worker_id: UUID | None,
    practice_id: UUID,
    notification_id: UUID,
    clock: Clock,
    message_id: str,
) -> None:
    pause = threading.Event()
    for delay in (*RECORD_RETRIES, None):
        try:
            with db.prepared_transaction(practice_id) as record:
                _finish(
                    record,
                    worker_id,
                    notification_id,
                    status=NotificationStatus.SENT,
                    sent_at=clock.now(),
                    message_id=message_id,
                    last_error=None,
                )
            return
        except Exception:
            if delay is None:
                raise
            pause.wait(delay)


# The sweeper, in two find/act pairs like every scheduler job: the finds run across practices
# and return (practice id, notification id); each act is a conditional update in the
# notification's own practice, so a second scheduler or an overlapping tick changes nothing.


def _claim_abandoned(now: datetime_t, alive_since: datetime_t | None) -> ColumnElement[bool]:
    """A claim whose worker has not beaten since `alive_since` (wall-clock time, as the
    heartbeats are: liveness is about real seconds, not the scheduler's clock), or, for a claim
    that names no worker, one older than CLAIM_LIMIT."""
    alive = (
        select(WorkerHeartbeat.id)
        .where(col(WorkerHeartbeat.id) == col(Notification.claimed_by))
        .where(
            col(WorkerHeartbeat.beat_at) > (alive_since or datetime_t.now(UTC) - HEARTBEAT_STALE)
        )
    )
    return or_(
        col(Notification.claimed_at) <= now - CLAIM_LIMIT,
        and_(col(Notification.claimed_by).is_not(None), ~alive.exists()),
    )


def stuck_notifications(
    session: Session, *, now: datetime_t, limit: int, alive_since: datetime_t | None = None
) -> list[tuple[UUID, UUID]]:
    """Claims whose worker died mid-send."""
    return find_due(
        session,
        "release_notification",
        Notification,
        col(Notification.status) == NotificationStatus.SENDING,
        _claim_abandoned(now, alive_since),
        due=col(Notification.claimed_at),
        now=now,
        limit=limit,
    )


def release_notification(
    session: Session,
    notification_id: UUID,
    *,
    now: datetime_t,
    alive_since: datetime_t | None = None,
) -> bool:
    """Hand the claim back and queue the email at once (the worker is gone; if it had got as
    far as the relay's 250, this sends it a second time, with the same Message-ID)."""
    notification = claim_row(
        session,
        Notification,
        notification_id,
        col(Notification.status) == NotificationStatus.SENDING,
        _claim_abandoned(now, alive_since),
        status=NotificationStatus.PENDING,
        claimed_by=None,
        next_attempt_at=now + SWEEP_AFTER,
    )
    if notification is None:
        return False
    emit(session, DELIVER_NOTIFICATION, notification.practice_id, notification.id, at=now)
    return True


def due_notifications(session: Session, *, now: datetime_t, limit: int) -> list[tuple[UUID, UUID]]:
    """What should have gone out by now: retries whose backoff is over, lost messages."""
    return find_due(
        session,
        "requeue_notification",
        Notification,
        col(Notification.status) == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
        due=col(Notification.next_attempt_at),
        now=now,
        limit=limit,
    )


def requeue_notification(session: Session, notification_id: UUID, *, now: datetime_t) -> bool:
    notification = claim_row(
        session,
        Notification,
        notification_id,
        col(Notification.status) == NotificationStatus.PENDING,
        col(Notification.next_attempt_at) <= now,
        next_attempt_at=now + SWEEP_AFTER,
    )
    if notification is None:
        return False
    emit(session, DELIVER_NOTIFICATION, notification.practice_id, notification.id, at=now)
    return True
