"""Whether and how Attune writes to people: a client's opt-out history, a clinician's choice
between a nudge per alert and a morning digest, and the digests themselves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import enum_field, id_field, json_field, moment, practice_field


class OptOutChange(SQLModel, table=True):
    """Every time a client's invitations were stopped or turned back on, and by whom.

    changed_by is None when the client did it through the link in an email.
    """

    __tablename__ = "opt_out_change"

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    client_id: UUID = Field(foreign_key="client.id", index=True, ondelete="CASCADE")
    opted_out: bool
    changed_by: UUID | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    reason: str | None = Field(default=None, max_length=500)
    changed_at: datetime = moment()


class NudgeDelivery(StrEnum):
    """per_alert: an email before each upcoming appointment that has open alerts;
    daily_digest: one email each morning listing that day's appointments with alerts."""

    PER_ALERT = "per_alert"  # one email per upcoming appointment with alerts
    DAILY_DIGEST = "daily_digest"  # one email each morning listing that day's appointments


class NudgePreference(SQLModel, table=True):
    """A clinician's choice; no row means a nudge per alert."""

    __tablename__ = "nudge_preference"

    account_id: UUID = Field(foreign_key="account.id", primary_key=True, ondelete="CASCADE")
    practice_id: UUID = practice_field()
    delivery: NudgeDelivery = enum_field(NudgeDelivery, NudgeDelivery.PER_ALERT)
    digest_hour: int = 7  # local hour, in the clinician's time zone
    updated_by: UUID | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")
    updated_at: datetime = moment()
    # When the scheduler last looked at this reader's digest: its finder takes the least
    # recently looked at first, so every reader gets a turn however many there are.
    checked_at: datetime | None = moment(nullable=True)


class NudgeDigest(SQLModel, table=True):
    """One morning email covering the nudges of a clinician's day (its notification's subject).

    The nudges keep their own rows, one per appointment, marked sent when the digest is made.
    """

    __tablename__ = "nudge_digest"
    __table_args__ = (UniqueConstraint("clinician_id", "local_date"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    clinician_id: UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    local_date: str = Field(max_length=10)  # YYYY-MM-DD in the clinician's time zone
    nudge_ids: list[str] = json_field()
    created_at: datetime = moment()
