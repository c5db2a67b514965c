"""Turn an alert's evidence into what a nudge may say: a move and a one-line reason each.

The reasons name a direction ("rated lower than usual"), never a score, so the email to the
clinician carries no clinical numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shared.survey.items import SurveyItem
from shared.survey.moves import MOVE_ORDER, Move

ASKED_REASON = "They said they would like to talk about how therapy is going."
SILENCE_REASON = "Recent requests for feedback went unanswered."
OVERALL_REASON = "The session felt less safe to them than usual."


def _join(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " and " + phrases[-1][0].lower() + phrases[-1][1:]


def nudge_points(
    evidence: Iterable[Mapping[str, Any]], items: Mapping[str, SurveyItem]
) -> list[tuple[Move, str]]:
    """One (move, reason) per suggested move, relational first."""
    reasons: dict[Move, list[str]] = {}
    topics: dict[Move, list[str]] = {}
    for finding in evidence:
        rule = finding["rule"]
        moves = [Move(m) for m in finding["moves"]]
        if rule == "asked":
            for move in moves:
                reasons.setdefault(move, []).append(ASKED_REASON)
            continue
        if rule == "silence":
            for move in moves:
                reasons.setdefault(move, []).append(SILENCE_REASON)
            continue
        for key in finding.get("items", []):
            item = items.get(key)
            if item is not None and item.topic not in topics.setdefault(item.move, []):
                topics[item.move].append(item.topic)
        for move in moves:
            reasons.setdefault(move, [])
    points: list[tuple[Move, str]] = []
    for move in MOVE_ORDER:
        if move not in reasons and move not in topics:
            continue
        lines = []
        if topics.get(move):
            verb = "were" if len(topics[move]) > 1 else "was"
            lines.append(f"{_join(topics[move])} {verb} rated lower than usual.")
        lines.extend(dict.fromkeys(reasons.get(move, [])))
        points.append((move, " ".join(lines) or OVERALL_REASON))
    return points
