from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import enum_field, id_field, moment, practice_field


class Role(StrEnum):
    """owner: runs the practice (settings, clinicians, API keys, figures); clinician: sees
    their own clients and alerts."""

    OWNER = "owner"
    CLINICIAN = "clinician"


class Account(SQLModel, table=True):
    """A person who signs in: a clinic owner or a clinician."""

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=120)
    role: Role = enum_field(Role)
    timezone: str = "UTC"
    password_hash: str | None = None
    created_at: datetime = moment()
    # A deactivated account keeps its history (alerts, audit) but can no longer sign in.
    deactivated_at: datetime | None = moment(nullable=True)


class AuthSession(SQLModel, table=True):
    """A signed-in session. Only the token's SHA-256 is kept, so a database leak signs no one in."""

    __tablename__ = "auth_session"
    __table_args__ = (Index("ix_auth_session_expires", "expires_at"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    practice_id: UUID = practice_field()
    created_at: datetime = moment()
    expires_at: datetime = moment()
    revoked_at: datetime | None = moment(nullable=True)
    # For the idle limit: a session unused for settings.session_idle_minutes is over.
    last_seen_at: datetime | None = moment(nullable=True)


class ApiKey(SQLModel, table=True):
    """A practice's scheduling system: it may report clients and appointments, nothing else."""

    __tablename__ = "api_key"

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    name: str = Field(max_length=80)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = moment()
    last_used_at: datetime | None = moment(nullable=True)
    revoked_at: datetime | None = moment(nullable=True)


class Client(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("practice_id", "reference"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    clinician_id: UUID = Field(foreign_key="account.id", index=True)
    # Pseudonymous: what a clinician's email may name. Never the client's name.
    reference: str = Field(max_length=40)
    email: str = Field(max_length=254)
    timezone: str = "UTC"
    opted_out_at: datetime | None = moment(nullable=True)
    created_at: datetime = moment()
