"""quiet hours wall clock: stored quiet hours with a zone rewritten as local wall-clock times

Revision ID: 0013
Revises: 0012

Branch: correctness. Quiet hours are local wall-clock times read in the client's own zone
(shared/practice/settings.py refuses a time with a zone or an offset). Before that rule, a
settings document could be saved with "22:00Z", "22:00+01:00" or a number (pydantic read 12345
as 03:25:45 UTC), and was stored as "22:00:00Z", "22:00:00+01:00", "03:25:45Z". Such a version
no longer parses: every read of the practice's current settings raised, so its answers were not
evaluated, its invitations not scheduled and its settings page failed. Nor did it ever work:
comparing a zoned time with the reader's local time raised as soon as an email was scheduled.

Each is rewritten to its wall-clock digits without the zone ("22:00:00+01:00" -> "22:00:00"):
what the owner typed as the hour, read on the client's clock as every quiet hour is now.
Converting by the offset instead would pick one reading of an offset that a daylight-saving
zone does not have all year. Every version is rewritten, not only the current one, so the
settings history does not show a change nobody made. The downgrade leaves them as they are:
the old code reads the wall-clock form too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import time
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_versions = sa.table(
    "practice_settings_version",
    sa.column("id", sa.Uuid()),
    sa.column("body", sa.JSON()),
)


def wall_clock(value: Any) -> Any:
    """A stored quiet-hours time in today's form: its local digits without a zone. Anything
    that is not a zoned time of day is returned as it is."""
    if not isinstance(value, str):
        return value
    try:
        parsed = time.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        return value
    return parsed.replace(tzinfo=None).isoformat()


def rewritten(body: dict[str, Any]) -> dict[str, Any] | None:
    """The body with its quiet hours in wall-clock form, or None when nothing changes."""
    timing = body.get("timing")
    quiet = timing.get("quiet_hours") if isinstance(timing, dict) else None
    if not isinstance(quiet, dict):
        return None
    fixed = {
        key: wall_clock(value) if key in ("start", "end") else value for key, value in quiet.items()
    }
    if fixed == quiet:
        return None
    return {**body, "timing": {**timing, "quiet_hours": fixed}}


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        # The owner runs migrations, and FORCE puts it under the practice policy too: lifted
        # for this transaction only (DDL is transactional; the table is locked meanwhile).
        op.execute("ALTER TABLE practice_settings_version NO FORCE ROW LEVEL SECURITY")
    for version_id, raw in bind.execute(sa.select(_versions.c.id, _versions.c.body)).all():
        body = json.loads(raw) if isinstance(raw, str) else raw
        fixed = rewritten(body) if isinstance(body, dict) else None
        if fixed is not None:
            bind.execute(_versions.update().where(_versions.c.id == version_id).values(body=fixed))
    if postgres:
        op.execute("ALTER TABLE practice_settings_version FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    pass  # the wall-clock form is what the earlier code wrote and reads as well
