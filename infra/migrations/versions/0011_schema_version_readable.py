"""schema version readable: readiness compares the database's revision with the code's

Revision ID: 0011
Revises: 0010

Branch: ops-health. Every process answers /health/ready, and part of being ready is a
schema at the head this code was written for (shared/health/readiness.py). It reads
alembic_version as the application's role, which 0005 shut out of that table entirely;
reading it back is safe (the revision names no person and no practice), writing it stays the
owner's.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from shared.db.row_security import APP_ROLE

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE SELECT ON alembic_version FROM {APP_ROLE}")
