"""request ids on outbox events and nudges, so one id follows a piece of work through the logs

Revision ID: 0011
Revises: 0010

Branch: ops-reqid. `grep <request id>` over every process's logs shows an answer's whole path,
from the API request to the email that carries its nudge (shared.logging):

- outbox_event.request_id: the id of the work that emitted the event. The relay sends it on
  the broker message and the worker binds it while handling that message, so every event a
  worker emits carries it on (evaluation, then the nudge's email).
- nudge.request_id: the id of the work that made the nudge pending. A nudge is sent by the
  scheduler days later, found by its due time rather than by a message, so the id has to live
  on the row itself; the scheduler binds it while sending, and the email's event carries it on.
  Other due work (invitations, reminders, digests) is not tied to one answer, and stays
  without one.

Both are nullable (events and nudges from before this revision have none) and at most 64
characters: a supplied X-Request-Id that is longer or holds anything but letters, digits and
`._:-` is replaced by a generated one before it is bound, so nothing raw is stored. The relay
reads outbox events as the system role, which may now read the new column too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from shared.db.row_security import SYSTEM_ROLE

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("outbox_event", "nudge")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
            )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT (request_id) ON outbox_event TO {SYSTEM_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE SELECT (request_id) ON outbox_event FROM {SYSTEM_ROLE}")
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
