from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import BigInteger, Column, Index, String
from sqlmodel import Field, SQLModel

from shared.logging import MAX_REQUEST_ID
from shared.models._columns import enum_field, id_field, json_field, moment, practice_field
from shared.privacy.encryption import EncryptedText


class ClientHistory(SQLModel, table=True):
    """The constant-size summary detection reads (see shared.detection.history)."""

    __tablename__ = "client_history"

    client_id: UUID = Field(foreign_key="client.id", primary_key=True, ondelete="CASCADE")
    practice_id: UUID = practice_field()
    answered: int = 0
    total: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    total_sq: int = Field(default=0, sa_column=Column(BigInteger(), nullable=False, default=0))
    last_mean: float | None = None
    decline_streak: int = 0
    unanswered_streak: int = 0
    # {item key: [answered, total, total_sq]} (see shared.detection.history.ItemSums).
    item_sums: dict[str, list[int]] | None = json_field(nullable=True)
    streak_from: float | None = None


class AlertStatus(StrEnum):
    """open: waiting for the clinician; acknowledged: the clinician has addressed it."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"


class RepairOutcome(StrEnum):
    """What the client's first answer after the nudged appointment showed."""

    REPAIRED = "repaired"  # back to their baseline
    NOT_REPAIRED = "not_repaired"


class Alert(SQLModel, table=True):
    """A safety dip, with its evidence and suggested moves.

    source_key is the idempotency key: "response:<id>" or "silence:<invitation id>".
    """

    __table_args__ = (Index("ix_alert_practice_status", "practice_id", "status"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    source_key: str = Field(max_length=80, unique=True)
    client_id: UUID = Field(foreign_key="client.id", index=True, ondelete="CASCADE")
    clinician_id: UUID = Field(foreign_key="account.id", index=True)
    response_id: UUID | None = Field(default=None, foreign_key="response.id", ondelete="CASCADE")
    target_appointment_id: UUID | None = Field(
        default=None, foreign_key="appointment.id", index=True, ondelete="SET NULL"
    )
    settings_version: int
    evidence: list[dict[str, Any]] = json_field()
    moves: list[str] = json_field()
    status: AlertStatus = enum_field(AlertStatus, AlertStatus.OPEN)
    created_at: datetime = moment()
    acknowledged_at: datetime | None = moment(nullable=True)
    acknowledged_by: UUID | None = Field(default=None, foreign_key="account.id")
    # Which move the clinician used when they marked it addressed (a Move value): the repair
    # outcome below then counts for that move.
    addressed_move: str | None = Field(default=None, sa_column=Column(String(30), nullable=True))
    # The clinician's private note; encrypted at rest like clients' comments.
    addressed_note: str | None = Field(
        default=None, sa_column=Column(EncryptedText(), nullable=True)
    )
    # The mean the client's next answer must reach to count as repaired: their baseline
    # before this dip (or the practice's low-overall floor when there was none yet).
    repair_target: float | None = None
    # None while no answer has come after the nudged appointment: the alert stays open.
    repair: RepairOutcome | None = enum_field(RepairOutcome, None, nullable=True)
    repair_response_id: UUID | None = Field(
        default=None, foreign_key="response.id", ondelete="SET NULL"
    )
    repair_mean: float | None = None
    repair_at: datetime | None = moment(nullable=True)


class NudgeStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time
    # Its email is queued (its own, or the digest's). Delivered means that email's
    # notification is `sent`: accepted by the relay (shared.alerts.nudges.delivered).
    SENT = "sent"
    CANCELLED = "cancelled"  # its appointment went away


class Nudge(SQLModel, table=True):
    """One nudge per upcoming appointment: several dips before it merge into this one."""

    __table_args__ = (Index("ix_nudge_due", "status", "due_at"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    appointment_id: UUID = Field(foreign_key="appointment.id", unique=True, ondelete="CASCADE")
    clinician_id: UUID = Field(foreign_key="account.id", index=True)
    status: NudgeStatus = enum_field(NudgeStatus, NudgeStatus.PENDING)
    due_at: datetime = moment()
    sent_at: datetime | None = moment(nullable=True)
    created_at: datetime = moment()
    # Set when the nudge went out inside a clinician's daily digest (nudge_digest.id).
    digest_id: UUID | None = None
    # The request id of the work that made this nudge pending (the answer whose alert it
    # carries, or the booking that gave a held alert its session). The scheduler sends it
    # days later, from no message, so the id lives here for its send to log under.
    request_id: str | None = Field(default=None, max_length=MAX_REQUEST_ID)
