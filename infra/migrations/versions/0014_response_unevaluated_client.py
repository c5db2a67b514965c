"""response unevaluated by client: evaluation catches up on a client's earlier answers

Revision ID: 0014
Revises: 0013

Branch: correctness. Before an answer is applied to its client's history, the client's
earlier answers still unevaluated are evaluated first (shared.detection.order), so the history
sees answers in the order they were given whatever order their messages arrive in. This
partial index finds those few answers without reading the client's evaluated ones, keeping
evaluation a fixed amount of work however long the client's history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_response_unevaluated_client",
        "response",
        ["client_id", "submitted_at"],
        postgresql_where=sa.text("evaluated_at IS NULL"),
        sqlite_where=sa.text("evaluated_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_response_unevaluated_client", table_name="response")
