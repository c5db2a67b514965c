"""Retention: what is done with is deleted after a period, not kept forever.

Published outbox events, links that expired (survey, unsubscribe, password reset, invitation)
or were used, and sign-ins that expired or were revoked are deleted once they are older than
the retention period (ATTUNE_RETENTION_DAYS). A link with no expiry (an unsubscribe link)
stays: an old email's opt-out must keep working.

Like every due-work find, the find crosses practices as (practice id, key) pairs and the
deleting runs in each practice's own transaction, under row-level security. Deleting is
idempotent: a second scheduler replica deleting the same rows deletes nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import delete, or_
from sqlmodel import col, select

from shared.db import Database
from shared.models import AccessToken, AccountLink, AuthSession, OutboxEvent

log = structlog.get_logger("attune.retention")
DEFAULT_RETENTION = timedelta(days=30)
# Rows per kind per tick: a backlog (the first run after an upgrade) drains over a few ticks
# instead of holding one long transaction.
BATCH = 500


@dataclass(frozen=True)
class _Kind:
    name: str
    model: Any
    key: Any
    old_enough: Any  # (cutoff) -> SQL condition


KINDS = (
    _Kind(
        "outbox_events",
        OutboxEvent,
        col(OutboxEvent.id),
        lambda cutoff: col(OutboxEvent.published_at) < cutoff,
    ),
    _Kind(
        "links",
        AccessToken,
        col(AccessToken.token_hash),
        lambda cutoff: col(AccessToken.expires_at) < cutoff,
    ),
    _Kind(
        "account_links",
        AccountLink,
        col(AccountLink.id),
        lambda cutoff: or_(col(AccountLink.expires_at) < cutoff, col(AccountLink.used_at) < cutoff),
    ),
    _Kind(
        "sessions",
        AuthSession,
        col(AuthSession.token_hash),
        lambda cutoff: or_(
            col(AuthSession.expires_at) < cutoff, col(AuthSession.revoked_at) < cutoff
        ),
    ),
)


@dataclass
class Purged:
    counts: dict[str, int] = field(default_factory=lambda: {kind.name: 0 for kind in KINDS})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def purge_expired(
    db: Database, *, now: datetime, keep: timedelta = DEFAULT_RETENTION, batch: int = BATCH
) -> Purged:
    """Delete up to `batch` rows of each kind that have been done with for longer than
    `keep`; returns how many of each went."""
    cutoff = now - keep
    purged = Purged()
    for kind in KINDS:
        with db.across_practices() as session:
            found = session.exec(
                select(kind.model.practice_id, kind.key)
                .where(kind.old_enough(cutoff))
                .where(col(kind.model.practice_id).is_not(None))
                .limit(batch)
            ).all()
        by_practice: dict[UUID, list[object]] = defaultdict(list)
        for practice_id, key in found:
            by_practice[practice_id].append(key)
        for practice_id, keys in by_practice.items():
            with db.transaction(practice_id) as session:
                # The condition again: a row changed since the find (a session renewed) stays.
                result = session.exec(
                    delete(kind.model).where(kind.key.in_(keys)).where(kind.old_enough(cutoff))
                )
                purged.counts[kind.name] += result.rowcount or 0
    if purged.total:
        log.info("retention.purged", **purged.counts)
    return purged
