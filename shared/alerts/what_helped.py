"""Moves that came before a repair with a client are offered first next time.

When a clinician marks an alert as addressed they say which move they used; the client's next
answer then settles whether the alliance recovered. A move that was followed by a recovery
with this client is the one to try first when they dip again.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel import Session, col, select

from shared.models import Alert, RepairOutcome
from shared.survey.moves import MOVE_ORDER, Move


def helped_first(suggested: Sequence[Move], helped: Sequence[Move]) -> list[Move]:
    """The suggested moves, those that helped before (most recent first) leading, the rest in
    their usual order. A move that helped but is not suggested now is not added."""
    leading = [move for move in dict.fromkeys(helped) if move in suggested]
    rest = [move for move in MOVE_ORDER if move in suggested and move not in leading]
    others = [move for move in suggested if move not in leading and move not in rest]
    return leading + rest + others


def moves_that_helped(session: Session, client_id: UUID) -> list[Move]:
    """Moves used before a recovery with this client, most recent recovery first, each once.
    The caller has already found the client visible to whoever is asking."""
    used = session.exec(
        select(Alert.addressed_move)
        .where(Alert.client_id == client_id)
        .where(Alert.repair == RepairOutcome.REPAIRED)
        .where(col(Alert.addressed_move).is_not(None))
        .order_by(col(Alert.repair_at).desc())
    ).all()
    known = {move.value for move in Move}
    return list(dict.fromkeys(Move(value) for value in used if value in known))
