"""What keeps the background work honest: which worker processes are alive, and which pieces
of due work failed (retried with backoff, then marked failed), so one bad row never stalls the
rest and nothing fails unseen."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import id_field, moment, practice_field


class WorkerHeartbeat(SQLModel, table=True):
    """One row per running worker process, stamped every few seconds. An email claimed by a
    worker whose stamp has gone stale is handed back (shared.notifications.delivery)."""

    __tablename__ = "worker_heartbeat"

    id: UUID = Field(primary_key=True)
    started_at: datetime = moment()
    beat_at: datetime = moment()


class WorkFailure(SQLModel, table=True):
    """A piece of due work that raised: the scheduler skips it until `retry_at`, and after
    MAX_TRIES stamps `failed_at` and leaves it for a person. Also a message the broker gave up
    on (job "message:<actor>"). The error is its type only: messages can carry row values."""

    __tablename__ = "work_failure"
    __table_args__ = (
        UniqueConstraint("job", "item_id", name="uq_work_failure_job_item"),
        Index("ix_work_failure_item", "item_id"),
    )

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    job: str = Field(max_length=60)
    item_id: UUID
    attempts: int = 0
    retry_at: datetime | None = moment(nullable=True)
    failed_at: datetime | None = moment(nullable=True)
    last_error: str = Field(default="", max_length=200)
    updated_at: datetime = moment()
