"""per-item running sums and the decline streak's starting mean in the client's summary

Branch issue-12-cohorts. The item-drop rule compares each item with that client's own
baseline for it, and the decline streak can require a minimum fall in all: both need two more
columns in client_history. Existing summaries are carried over by folding each client's
already evaluated answers, in the order they were submitted, exactly as the worker would have.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_response = sa.table(
    "response",
    sa.column("client_id", sa.Uuid()),
    sa.column("scores", sa.JSON()),
    sa.column("submitted_at", sa.DateTime()),
    sa.column("evaluated_at", sa.DateTime()),
)
_history = sa.table(
    "client_history",
    sa.column("client_id", sa.Uuid()),
    sa.column("item_sums", sa.JSON()),
    sa.column("streak_from", sa.Float()),
)


def _scores(value: Any) -> dict[str, int]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def upgrade() -> None:
    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_sums", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("streak_from", sa.Float(), nullable=True))

    bind = op.get_bind()
    answers = bind.execute(
        sa.select(_response.c.client_id, _response.c.scores)
        .where(_response.c.evaluated_at.is_not(None))
        .order_by(_response.c.client_id, _response.c.submitted_at)
    )
    # Per client: {item: [answered, total, total_sq]}, and the decline streak's start.
    folded: dict[Any, tuple[dict[str, list[int]], float | None, float | None, int]] = {}
    for client_id, raw in answers:
        scores = _scores(raw)
        sums, last, start, streak = folded.get(client_id, ({}, None, None, 0))
        for key, score in scores.items():
            n, total, total_sq = sums.get(key, [0, 0, 0])
            sums[key] = [n + 1, total + score, total_sq + score * score]
        mean = sum(scores.values()) / len(scores)
        fell = last is not None and mean < last
        start = (start if streak else last) if fell else None
        folded[client_id] = (sums, mean, start, streak + 1 if fell else 0)
    for client_id, (sums, _, start, _) in folded.items():
        bind.execute(
            _history.update()
            .where(_history.c.client_id == client_id)
            .values(item_sums=sums, streak_from=start)
        )


def downgrade() -> None:
    with op.batch_alter_table("client_history", schema=None) as batch_op:
        batch_op.drop_column("streak_from")
        batch_op.drop_column("item_sums")
