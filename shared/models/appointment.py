from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import enum_field, id_field, moment, practice_field


class AppointmentStatus(StrEnum):
    """scheduled until the scheduling system reports the appointment completed, cancelled or
    a no-show; those three are final."""

    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


class Appointment(SQLModel, table=True):
    __table_args__ = (
        # The scheduling system's own id: re-sending its event finds the same row.
        UniqueConstraint("practice_id", "external_id"),
        Index("ix_appointment_client_start", "client_id", "starts_at"),
        # The sweep for completed sessions whose invitation was never scheduled.
        Index("ix_appointment_completed", "status", "completed_at"),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    client_id: UUID = Field(foreign_key="client.id", ondelete="CASCADE")
    clinician_id: UUID = Field(foreign_key="account.id", index=True)
    external_id: str | None = Field(default=None, max_length=120)
    starts_at: datetime = moment()
    ends_at: datetime = moment()
    status: AppointmentStatus = enum_field(AppointmentStatus, AppointmentStatus.SCHEDULED)
    completed_at: datetime | None = moment(nullable=True)
    updated_at: datetime = moment()
