"""account links: password reset and clinician invitation

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # notification.kind is a VARCHAR(20) without a CHECK, so the two new kinds need no ALTER.
    op.create_table(
        "account_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("practice_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum(
                "password_reset",
                "clinician_invitation",
                name="accountlinkpurpose",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", shared.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["practice_id"], ["practice.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_account_link_practice_id", "account_link", ["practice_id"])
    op.create_index("ix_account_link_account_id", "account_link", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_account_link_account_id", table_name="account_link")
    op.drop_index("ix_account_link_practice_id", table_name="account_link")
    op.drop_table("account_link")
