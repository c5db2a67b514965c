"""The order a client's answers reach their history: the order they were submitted in.

A client's history (shared.detection.history) is a running summary. Its sums do not depend on
order, but its last mean, decline streak and unanswered streak do, and so do the findings of
the drop, sudden-drop, decline and silence rules read from it. An answer's message can be lost
and the answer evaluated by the sweep minutes later, after a later answer of the same client
was evaluated. So before an answer (or a silence) is applied, every earlier answer of the
client still unevaluated is evaluated first, in submission order: whatever order the messages
and the sweep arrive in, the history sees the answers in the order the client gave them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

# Sorts after every id: a silence counted at a moment comes after every answer given by then.
_LAST_ID = UUID(int=(1 << 128) - 1)


@dataclass(frozen=True, order=True)
class Place:
    """Where an answer stands among its client's answers: submitted when, the id breaking ties."""

    submitted_at: datetime
    id: UUID


def silence_place(at: datetime) -> Place:
    """Where a silence counted at `at` stands: after every answer submitted by then."""
    return Place(at, _LAST_ID)


def evaluate_first(unevaluated: Iterable[Place], place: Place) -> list[Place]:
    """The client's unevaluated answers that come before `place`, oldest first: what must be
    evaluated before the answer or silence at `place` is applied to the history."""
    return sorted(earlier for earlier in unevaluated if earlier < place)
