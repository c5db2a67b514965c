from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from shared.models._columns import id_field, json_field, moment, practice_field


class AuditEvent(SQLModel, table=True):
    """Who (an account or an API key) read or changed what, and when.

    Written in the transaction of the action it records (shared.audit.record). The API has no
    route that edits it, and on PostgreSQL the application's role may only insert and read it.
    client_id has no foreign key on purpose: the trail of who read or erased a client outlives
    the client, and after erasure the id points at nothing.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_practice_at", "practice_id", "at"),
        Index("ix_audit_client", "practice_id", "client_id"),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    at: datetime = moment()
    actor_kind: str = Field(max_length=20)
    actor_id: UUID
    action: str = Field(max_length=40)
    client_id: UUID | None = None
    subject_id: UUID | None = None
    # Counts and field names only: never an email, a name, a score or a comment.
    detail: dict[str, Any] = json_field()
