"""Request and response bodies shared by several routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)

from shared.clock import EARLIEST_MOMENT, LATEST_MOMENT
from shared.models import Role


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


def _written_as_text(value: Any) -> Any:
    # Pydantic would read 12345 or 1e10 as seconds since 1970: a number is never what an
    # appointment system means by a moment.
    if not isinstance(value, str | datetime):
        raise ValueError(
            "a moment is text in ISO 8601 with its time zone, e.g. 2026-03-02T09:00:00Z, "
            f"not {type(value).__name__} {value!r}"
        )
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST_MOMENT <= value < LATEST_MOMENT:
        raise ValueError(
            f"{value.isoformat()} is out of range: a moment must fall between "
            f"{EARLIEST_MOMENT.year} and {LATEST_MOMENT.year - 1}"
        )
    return value


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]
Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_written_as_text),
    AfterValidator(_in_range),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class Body(BaseModel):
    """Request bodies refuse fields they do not know, so a typo is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AccountOut(Out):
    """An owner's or clinician's account."""

    id: UUID = Field(description="Attune's id for the account (a clinician_id elsewhere).")
    practice_id: UUID = Field(description="The practice it belongs to.")
    email: str = Field(description="Their email address: their sign-in.")
    name: str = Field(description="Their name.")
    role: Role = Field(description="owner or clinician.")
    timezone: str = Field(description="Their IANA time zone.")
    deactivated_at: datetime | None = Field(
        default=None, description="When the owner deactivated them; null while active."
    )


__all__ = ["Body", "Moment", "Out", "TimeZone", "datetime"]
