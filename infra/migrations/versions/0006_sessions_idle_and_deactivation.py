"""sessions expire after inactivity; clinicians can be deactivated

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_session") as batch:
        batch.add_column(
            sa.Column("last_seen_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
    # A session from before this release counts as seen when it was made.
    op.execute("UPDATE auth_session SET last_seen_at = created_at")
    with op.batch_alter_table("account") as batch:
        batch.add_column(
            sa.Column("deactivated_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.drop_column("deactivated_at")
    with op.batch_alter_table("auth_session") as batch:
        batch.drop_column("last_seen_at")
