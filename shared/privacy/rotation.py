"""Move every stored comment to the newest comment key (`attune keys rotate-comments`):
clients' comments and clinicians' private notes on alerts, the two texts kept encrypted.

Works practice by practice as the application's role, in small transactions, so it can run
beside live traffic and be stopped and started again: a comment already under the newest key
is left alone.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import Text, type_coerce, update
from sqlmodel import col, select

from shared.db import Database
from shared.models import Alert, Practice, Response
from shared.privacy.encryption import CommentKeyring

BATCH = 500
# Every encrypted column: (its table's model, the column's name).
ENCRYPTED: tuple[tuple[Any, str], ...] = ((Response, "comment"), (Alert, "addressed_note"))


def rotate_comments(db: Database, keys: CommentKeyring) -> int:
    """Returns how many comments were re-encrypted."""
    with db.across_practices() as session:
        practice_ids = list(session.exec(select(Practice.id)).all())
    return sum(
        _rotate_practice(db, keys, practice_id, model, name)
        for practice_id in practice_ids
        for model, name in ENCRYPTED
    )


def _rotate_practice(
    db: Database, keys: CommentKeyring, practice_id: UUID, model: Any, name: str
) -> int:
    column = getattr(model, name)
    # The stored ciphertext itself, not the plain text EncryptedText would hand back.
    raw = type_coerce(column, Text)
    moved, after = 0, None
    while True:
        with db.transaction(practice_id) as session:
            query = (
                select(model.id, raw)
                .where(col(column).is_not(None))
                .order_by(col(model.id))
                .limit(BATCH)
            )
            if after is not None:
                query = query.where(col(model.id) > after)
            rows = session.execute(query).all()
            for row_id, token in rows:
                if keys.is_current(token):
                    continue
                session.execute(
                    update(model)
                    .where(col(model.id) == row_id)
                    .values({name: type_coerce(keys.rotate(token), Text)})
                )
                moved += 1
        if len(rows) < BATCH:
            return moved
        after = rows[-1][0]
