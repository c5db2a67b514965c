"""Column shapes every table uses, so each model states only what is its own."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Enum
from sqlmodel import Field

from shared.db.types import UtcDateTime


def id_field() -> Any:
    return Field(default_factory=uuid4, primary_key=True)


def practice_field() -> Any:
    return Field(foreign_key="practice.id", index=True, ondelete="CASCADE")


def moment(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=Column(UtcDateTime(), nullable=nullable, index=index),
    )


def json_field(*, nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def enum_field(
    kind: type[StrEnum], default: StrEnum | None = None, *, nullable: bool = False
) -> Any:
    """Stored as its value in a VARCHAR: adding a state later needs no ALTER TYPE."""
    column_type = Enum(
        kind,
        native_enum=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
    return Field(default=default, sa_column=Column(column_type, nullable=nullable))


__all__ = ["UUID", "datetime", "enum_field", "id_field", "json_field", "moment", "practice_field"]
