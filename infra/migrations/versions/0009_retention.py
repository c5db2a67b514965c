"""retention: the scheduler finds what is old enough to delete

Revision ID: 0009
Revises: 0008

Branch: issue-11-api. Published outbox events, expired links and ended sign-ins are deleted
after ATTUNE_RETENTION_DAYS (shared/retention). The system role finds them across practices,
so it may now read the moments that decide it (never anything about a person); the deleting
itself runs as the application's role, practice by practice, under row-level security.
Indexes keep each find a range scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from shared.db.row_security import SYSTEM_ROLE

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOMENTS = {
    "access_token": ["expires_at"],
    "account_link": ["id", "expires_at", "used_at"],
    "auth_session": ["expires_at", "revoked_at"],
}
INDEXES = {
    "ix_access_token_expires": ("access_token", ["expires_at"]),
    "ix_account_link_expires": ("account_link", ["expires_at"]),
    "ix_auth_session_expires": ("auth_session", ["expires_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in MOMENTS.items():
            op.execute(f"GRANT SELECT ({', '.join(columns)}) ON {table} TO {SYSTEM_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, columns in MOMENTS.items():
            op.execute(f"REVOKE SELECT ({', '.join(columns)}) ON {table} FROM {SYSTEM_ROLE}")
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
