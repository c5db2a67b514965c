"""Move every stored comment to the newest comment key (`attune keys rotate-comments`).

Works practice by practice as the application's role, in small transactions, so it can run
beside live traffic and be stopped and started again: a comment already under the newest key
is left alone.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Text, type_coerce, update
from sqlmodel import col, select

from shared.db import Database
from shared.models import Practice, Response
from shared.privacy.encryption import CommentKeyring

BATCH = 500
# The stored ciphertext itself, not the plain text EncryptedText would hand back.
_RAW_COMMENT = type_coerce(Response.comment, Text)


def rotate_comments(db: Database, keys: CommentKeyring) -> int:
    """Returns how many comments were re-encrypted."""
    with db.across_practices() as session:
        practice_ids = list(session.exec(select(Practice.id)).all())
    return sum(_rotate_practice(db, keys, practice_id) for practice_id in practice_ids)


def _rotate_practice(db: Database, keys: CommentKeyring, practice_id: UUID) -> int:
    moved, after = 0, None
    while True:
        with db.transaction(practice_id) as session:
            query = (
                select(Response.id, _RAW_COMMENT)
                .where(col(Response.comment).is_not(None))
                .order_by(col(Response.id))
                .limit(BATCH)
            )
            if after is not None:
                query = query.where(col(Response.id) > after)
            rows = session.execute(query).all()
            for response_id, token in rows:
                if keys.is_current(token):
                    continue
                session.execute(
                    update(Response)
                    .where(col(Response.id) == response_id)
                    .values(comment=type_coerce(keys.rotate(token), Text))
                )
                moved += 1
        if len(rows) < BATCH:
            return moved
        after = rows[-1][0]
