"""row-level security, the audit log, encrypted comments, erased clients' tally

Revision ID: 0005
Revises: 0004

On PostgreSQL every tenant table gets ENABLE + FORCE ROW LEVEL SECURITY and a policy on
current_setting('app.practice_id', true); the application's role gets DML only (INSERT and
SELECT only on the audit log); the system role gets the few columns it reads across practices
(shared.db.row_security explains the three roles).

A later migration that adds a table with practice_id runs `enable_tenant_rls(<table>)` from
shared.db.row_security; tests/integration/test_row_security.py fails until it does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.db.types
from shared.db.row_security import (
    APP_ROLE,
    SYSTEM_ROLE,
    allow_system_reads,
    disable_tenant_rls,
    enable_tenant_rls,
    ensure_roles,
    revoke_system_reads,
)
from shared.privacy.encryption import keyring

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every table with a practice_id column. Extend this list (or call enable_tenant_rls in the
# migration that creates the table) for every new tenant table.
TENANT_TABLES = [
    "access_token",
    "account",
    "account_link",
    "alert",
    "api_key",
    "audit_event",
    "auth_session",
    "client",
    "client_history",
    "erased_client_tally",
    "appointment",
    "invitation",
    "notification",
    "nudge",
    "nudge_digest",
    "nudge_preference",
    "opt_out_change",
    "outbox_event",
    "practice_settings_version",
    "response",
]

# What Database.across_practices may read: ids, due times and statuses for the scheduler,
# hashes (and login emails) to find a credential's practice. No client email, answer or comment.
SYSTEM_READS: dict[str, list[str]] = {
    "practice": ["id"],
    "invitation": [
        "id",
        "practice_id",
        "status",
        "send_at",
        "expires_at",
        "reminder_at",
        "reminded_at",
    ],
    "nudge": ["id", "practice_id", "status", "due_at", "clinician_id", "appointment_id"],
    # Digest finds: which digest readers have a pending nudge for a session in the next days.
    "appointment": ["id", "starts_at"],
    "nudge_preference": ["account_id", "delivery"],
    "notification": ["id", "practice_id", "status", "claimed_at", "next_attempt_at"],
    "outbox_event": ["id", "practice_id", "actor", "args", "created_at", "published_at"],
    "access_token": ["token_hash", "practice_id"],
    "account_link": ["token_hash", "practice_id"],
    "auth_session": ["token_hash", "practice_id"],
    "api_key": ["key_hash", "practice_id"],
    "account": ["email", "practice_id"],
}


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _recode_comments(code: object) -> None:
    """Encrypt (or, going down, decrypt) the comments already stored. Runs before row-level
    security is switched on (after it is switched off), so the owner sees every row."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, comment FROM response WHERE comment IS NOT NULL")
    ).all()
    for row_id, comment in rows:
        connection.execute(
            sa.text("UPDATE response SET comment = :comment WHERE id = :id"),
            {"comment": code(comment), "id": row_id},  # type: ignore[operator]
        )


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Uuid(), nullable=False),
        sa.Column("at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("subject_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_practice_at", ["practice_id", "at"], unique=False)
        batch_op.create_index("ix_audit_client", ["practice_id", "client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_event_practice_id"), ["practice_id"], unique=False
        )

    op.create_table(
        "erased_client_tally",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Uuid(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("clients_erased", sa.Integer(), nullable=False),
        sa.Column("sessions_completed", sa.Integer(), nullable=False),
        sa.Column("surveys_sent", sa.Integer(), nullable=False),
        sa.Column("surveys_answered", sa.Integer(), nullable=False),
        sa.Column("answer_mean_total", sa.Float(), nullable=False),
        sa.Column("alerts_raised", sa.Integer(), nullable=False),
        sa.Column("alerts_acknowledged", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["practice_id"], ["practice.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("practice_id", "month"),
    )
    with op.batch_alter_table("erased_client_tally", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erased_client_tally_practice_id"), ["practice_id"], unique=False
        )

    # A Fernet token is longer than the text it hides.
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.alter_column(
            "comment",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=2000),
            type_=sa.Text(),
            existing_nullable=True,
        )
    _recode_comments(keyring().encrypt)

    if op.get_bind().dialect.name != "postgresql":
        return
    _run(ensure_roles())
    _run(
        [
            f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}, {SYSTEM_ROLE}",
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
            f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
            # Tables later migrations create are usable at once; their RLS is checked by test.
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
            f"GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}",
            f"REVOKE ALL ON alembic_version FROM {APP_ROLE}",
            # The audit log is append-only for the application.
            f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM {APP_ROLE}",
        ]
    )
    for table in TENANT_TABLES:
        _run(enable_tenant_rls(table))
    _run(enable_tenant_rls("practice", column="id"))
    for table, columns in SYSTEM_READS.items():
        _run(allow_system_reads(table, columns))
    _run(
        [
            f"GRANT UPDATE (published_at) ON outbox_event TO {SYSTEM_ROLE}",
            "CREATE POLICY system_relay ON outbox_event FOR UPDATE "
            f"TO {SYSTEM_ROLE} USING (true) WITH CHECK (true)",
        ]
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS system_relay ON outbox_event")
        for table in SYSTEM_READS:
            _run(revoke_system_reads(table))
        for table in [*TENANT_TABLES, "practice"]:
            _run(disable_tenant_rls(table))
        _run(
            [
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
                f"REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}",
                f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}",
                f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}",
                f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}, {SYSTEM_ROLE}",
            ]
        )

    _recode_comments(keyring().decrypt)
    with op.batch_alter_table("response", schema=None) as batch_op:
        batch_op.alter_column(
            "comment",
            existing_type=sa.Text(),
            type_=sqlmodel.sql.sqltypes.AutoString(length=2000),
            existing_nullable=True,
        )
    with op.batch_alter_table("erased_client_tally", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erased_client_tally_practice_id"))
    op.drop_table("erased_client_tally")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_practice_id"))
        batch_op.drop_index("ix_audit_client")
        batch_op.drop_index("ix_audit_practice_at")
    op.drop_table("audit_event")
