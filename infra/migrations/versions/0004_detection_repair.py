"""exact running sums for the client's baseline; repair outcome of alerts

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# shared.detection.history.MEAN_UNITS, frozen here as the migration's own constant.
UNITS = 2520


def upgrade() -> None:
    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("total", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("total_sq", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Carry existing summaries over: sum = n * mean, sum of squares = m2 + n * mean^2.
    op.execute(
        f"UPDATE client_history SET total = ROUND(answered * mean * {UNITS}), "
        f"total_sq = ROUND((m2 + answered * mean * mean) * {UNITS * UNITS})"
    )
    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.drop_column("mean")
        batch_op.drop_column("m2")

    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("repair_target", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "repair",
                sa.Enum(
                    "repaired", "not_repaired", name="repairoutcome", native_enum=False, length=20
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("repair_response_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("repair_mean", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("repair_at", shared.db.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_alert_repair_response_id_response",
            "response",
            ["repair_response_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alert_repair_response_id_response", type_="foreignkey")
        batch_op.drop_column("repair_at")
        batch_op.drop_column("repair_mean")
        batch_op.drop_column("repair_response_id")
        batch_op.drop_column("repair")
        batch_op.drop_column("repair_target")

    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mean", sa.Float(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("m2", sa.Float(), nullable=False, server_default="0"))
    op.execute(
        f"UPDATE client_history SET mean = CASE WHEN answered > 0 "
        f"THEN CAST(total AS FLOAT) / (answered * {UNITS}) ELSE 0 END, "
        f"m2 = CASE WHEN answered > 0 THEN (CAST(total_sq AS FLOAT) "
        f"- CAST(total AS FLOAT) * total / answered) / {UNITS * UNITS} ELSE 0 END"
    )
    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.drop_column("total")
        batch_op.drop_column("total_sq")
