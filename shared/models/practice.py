from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import id_field, json_field, moment, practice_field


class Practice(SQLModel, table=True):
    id: UUID = id_field()
    name: str = Field(max_length=120)
    settings_version: int = 1
    created_at: datetime = moment()


class PracticeSettingsVersion(SQLModel, table=True):
    """Every settings change is kept: alerts name the version that produced them."""

    __tablename__ = "practice_settings_version"
    __table_args__ = (UniqueConstraint("practice_id", "version"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    version: int
    body: dict[str, Any] = json_field()
    created_by: UUID | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    created_at: datetime = moment()
