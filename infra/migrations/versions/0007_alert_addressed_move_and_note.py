"""an addressed alert keeps the move the clinician used and their private note

Branch: issue-10-clinician. The move lets a repair outcome count for the move that came
before it (a client's page lists first what helped before); the note is the clinician's own,
encrypted at rest like clients' comments (Text holding a Fernet token).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.add_column(sa.Column("addressed_move", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("addressed_note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert") as batch:
        batch.drop_column("addressed_note")
        batch.drop_column("addressed_move")
