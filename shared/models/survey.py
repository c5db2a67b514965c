from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Index, text
from sqlmodel import Field, SQLModel

from shared.models._columns import enum_field, id_field, json_field, moment, practice_field
from shared.privacy.encryption import EncryptedText


class InvitationStatus(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its send time
    SENT = "sent"  # handed to the mailer; open for an answer
    ANSWERED = "answered"
    EXPIRED = "expired"
    WITHHELD = "withheld"  # the client opted out before it went


class Invitation(SQLModel, table=True):
    """One survey per completed appointment (the unique appointment id is the idempotency key)."""

    __table_args__ = (
        Index("ix_invitation_due", "status", "send_at"),
        Index("ix_invitation_expiry", "status", "expires_at"),
        Index("ix_invitation_reminder", "status", "reminder_at"),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    appointment_id: UUID = Field(foreign_key="appointment.id", unique=True, ondelete="CASCADE")
    client_id: UUID = Field(foreign_key="client.id", index=True, ondelete="CASCADE")
    status: InvitationStatus = enum_field(InvitationStatus, InvitationStatus.SCHEDULED)
    send_at: datetime = moment()
    sent_at: datetime | None = moment(nullable=True)
    expires_at: datetime | None = moment(nullable=True)
    # The one optional reminder: when it is due, and when it went (None: not sent).
    reminder_at: datetime | None = moment(nullable=True)
    reminded_at: datetime | None = moment(nullable=True)
    answered_at: datetime | None = moment(nullable=True)
    created_at: datetime = moment()


class TokenPurpose(StrEnum):
    SURVEY = "survey"
    UNSUBSCRIBE = "unsubscribe"


class AccessToken(SQLModel, table=True):
    """A link sent by email. Only the SHA-256 of the token is stored."""

    __tablename__ = "access_token"
    __table_args__ = (Index("ix_access_token_expires", "expires_at"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    practice_id: UUID = practice_field()
    purpose: TokenPurpose = enum_field(TokenPurpose)
    subject_id: UUID = Field(index=True)
    created_at: datetime = moment()
    expires_at: datetime | None = moment(nullable=True)


class Response(SQLModel, table=True):
    """A client's answer: one per invitation."""

    __table_args__ = (
        Index("ix_response_client_time", "client_id", "submitted_at"),
        # What the sweep looks for: answers whose evaluation never happened.
        Index(
            "ix_response_unevaluated",
            "submitted_at",
            postgresql_where=text("evaluated_at IS NULL"),
            sqlite_where=text("evaluated_at IS NULL"),
        ),
        # What an evaluation catches up on first: the same client's earlier answers not yet
        # evaluated (shared.detection.order), found without reading their evaluated ones.
        Index(
            "ix_response_unevaluated_client",
            "client_id",
            "submitted_at",
            postgresql_where=text("evaluated_at IS NULL"),
            sqlite_where=text("evaluated_at IS NULL"),
        ),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    invitation_id: UUID = Field(foreign_key="invitation.id", unique=True, ondelete="CASCADE")
    client_id: UUID = Field(foreign_key="client.id", ondelete="CASCADE")
    clinician_id: UUID = Field(foreign_key="account.id", index=True)
    appointment_id: UUID = Field(foreign_key="appointment.id", ondelete="CASCADE")
    scores: dict[str, Any] = json_field()
    mean: float
    asked_to_talk: bool = False
    # Encrypted at rest (shared.privacy.encryption); the length limit is checked on input.
    comment: str | None = Field(default=None, sa_column=Column(EncryptedText(), nullable=True))
    submitted_at: datetime = moment()
    evaluated_at: datetime | None = moment(nullable=True)
