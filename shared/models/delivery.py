from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from shared.logging import MAX_REQUEST_ID
from shared.models._columns import enum_field, id_field, json_field, moment, practice_field


class OutboxEvent(SQLModel, table=True):
    """Work caused by a state change, committed in the same transaction as the change.

    The relay turns each row into a broker message (actor name + ids) and stamps it published;
    until then a broker outage only delays the work. `request_id` is the id of the work that
    emitted it (the API request, or the message or due item being handled), so the worker that
    runs it logs under the same id (shared.logging).
    """

    __tablename__ = "outbox_event"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    practice_id: UUID | None = Field(default=None, index=False)
    actor: str = Field(max_length=60)
    args: list[Any] = json_field()
    created_at: datetime = moment()
    published_at: datetime | None = moment(nullable=True)
    request_id: str | None = Field(default=None, max_length=MAX_REQUEST_ID)


class NotificationKind(StrEnum):
    """Which email: a client's survey invitation or its reminder, a clinician's nudge or
    morning digest, a password reset link, or a clinician's invitation to join."""

    SURVEY = "survey"
    NUDGE = "nudge"
    SURVEY_REMINDER = "survey_reminder"
    DIGEST = "digest"
    PASSWORD_RESET = "password_reset"
    CLINICIAN_INVITATION = "clinician_invitation"


class NotificationStatus(StrEnum):
    """pending: waiting for its time or a retry; sending: being handed to the mail server;
    sent; failed: refused for good; cancelled: nothing left to say by its time (the survey was
    answered, the client opted out, ...)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"  # nothing left to say by send time (answered, opted out, ...)


class Notification(SQLModel, table=True):
    """One email. Its key ("survey:<invitation id>", "nudge:<nudge id>") is unique, so no retry
    and no second worker can send it twice."""

    __table_args__ = (
        Index("ix_notification_retry", "status", "next_attempt_at"),
        # Whether a nudge was delivered is read through the email that carries it.
        Index("ix_notification_subject", "subject_id"),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    key: str = Field(max_length=120, unique=True)
    kind: NotificationKind = enum_field(NotificationKind)
    subject_id: UUID
    status: NotificationStatus = enum_field(NotificationStatus, NotificationStatus.PENDING)
    attempts: int = 0
    next_attempt_at: datetime = moment()
    claimed_at: datetime | None = moment(nullable=True)
    # The worker process holding the claim (worker_heartbeat.id): once its heartbeat goes
    # stale the claim is handed back, in seconds rather than after a fixed timeout.
    claimed_by: UUID | None = None
    sent_at: datetime | None = moment(nullable=True)
    message_id: str | None = Field(default=None, max_length=200)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = moment()
