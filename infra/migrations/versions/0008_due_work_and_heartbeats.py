"""due work that fails is retried then marked failed; worker heartbeats; delivered nudges

Revision ID: 0008
Revises: 0007

Branch: issue-11-worker.

- work_failure: one row per failing piece of due work (or dead-lettered message), so the
  scheduler skips it until its retry time and marks it failed after a bounded number of tries.
- worker_heartbeat and notification.claimed_by: a dead worker's claimed emails go back to work
  seconds after its heartbeat stops.
- nudge_preference.checked_at: the digest finder serves readers in turn, none starves.
- nudge.digest_id: which digest carried a nudge, so a nudge counts as delivered only once the
  email that carries it was accepted by the relay.
- The system role reads what the new finders need (answers left unevaluated, completed
  sessions without an invitation, heartbeats, failures) and may lock, never change, the rows
  it finds (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types
from shared.db.row_security import (
    SYSTEM_ROLE,
    allow_system_locks,
    allow_system_reads,
    disable_tenant_rls,
    enable_tenant_rls,
    revoke_system_locks,
    revoke_system_reads,
)

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tables the scheduler's finders lock, with their key column.
LOCKED = {
    "appointment": "id",
    "invitation": "id",
    "nudge": "id",
    "notification": "id",
    "response": "id",
    "nudge_preference": "account_id",
}


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.create_table(
        "work_failure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Uuid(), nullable=False),
        sa.Column("job", sa.String(length=60), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", shared.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_at", shared.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("updated_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "item_id", name="uq_work_failure_job_item"),
    )
    op.create_index("ix_work_failure_practice_id", "work_failure", ["practice_id"])
    op.create_index("ix_work_failure_item", "work_failure", ["item_id"])
    op.create_table(
        "worker_heartbeat",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.Uuid(), nullable=True))
    with op.batch_alter_table("nudge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_id", sa.Uuid(), nullable=True))
    with op.batch_alter_table("nudge_preference", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("checked_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_notification_subject", "notification", ["subject_id"])
    op.create_index("ix_appointment_completed", "appointment", ["status", "completed_at"])
    # Answers the sweep looks for (evaluated_at IS NULL) stay few: a partial index on PostgreSQL
    # and SQLite alike keeps the finder off the whole table.
    op.create_index(
        "ix_response_unevaluated",
        "response",
        ["submitted_at"],
        postgresql_where=sa.text("evaluated_at IS NULL"),
        sqlite_where=sa.text("evaluated_at IS NULL"),
    )

    if op.get_bind().dialect.name != "postgresql":
        return
    _run(enable_tenant_rls("work_failure"))
    _run(
        allow_system_reads(
            "work_failure", ["id", "practice_id", "job", "item_id", "retry_at", "failed_at"]
        )
    )
    _run(allow_system_reads("response", ["id", "practice_id", "submitted_at", "evaluated_at"]))
    _run(
        [
            # Whole-table grant first (no policies: the table holds no practice's data).
            f"GRANT SELECT (id, beat_at) ON worker_heartbeat TO {SYSTEM_ROLE}",
            f"GRANT SELECT (claimed_by) ON notification TO {SYSTEM_ROLE}",
            f"GRANT SELECT (digest_id) ON nudge TO {SYSTEM_ROLE}",
            f"GRANT SELECT (practice_id, checked_at) ON nudge_preference TO {SYSTEM_ROLE}",
            f"GRANT SELECT (practice_id, status, completed_at) ON appointment TO {SYSTEM_ROLE}",
            f"GRANT SELECT (appointment_id) ON invitation TO {SYSTEM_ROLE}",
        ]
    )
    for table, key in LOCKED.items():
        _run(allow_system_locks(table, key))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, key in LOCKED.items():
            _run(revoke_system_locks(table, key))
        _run(
            [
                f"REVOKE SELECT (claimed_by) ON notification FROM {SYSTEM_ROLE}",
                f"REVOKE SELECT (digest_id) ON nudge FROM {SYSTEM_ROLE}",
                f"REVOKE SELECT (practice_id, checked_at) ON nudge_preference FROM {SYSTEM_ROLE}",
                f"REVOKE SELECT (practice_id, status, completed_at) ON appointment "
                f"FROM {SYSTEM_ROLE}",
                f"REVOKE SELECT (appointment_id) ON invitation FROM {SYSTEM_ROLE}",
            ]
        )
        _run(revoke_system_reads("response"))
        _run(revoke_system_reads("work_failure"))
        _run(disable_tenant_rls("work_failure"))
    op.drop_index("ix_response_unevaluated", table_name="response")
    op.drop_index("ix_notification_subject", table_name="notification")
    op.drop_index("ix_appointment_completed", table_name="appointment")
    with op.batch_alter_table("nudge_preference", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
    with op.batch_alter_table("nudge", schema=None) as batch_op:
        batch_op.drop_column("digest_id")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
    op.drop_table("worker_heartbeat")
    op.drop_index("ix_work_failure_item", table_name="work_failure")
    op.drop_index("ix_work_failure_practice_id", table_name="work_failure")
    op.drop_table("work_failure")
