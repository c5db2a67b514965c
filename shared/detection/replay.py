"""Replay a practice's past answers and silences through the detection rules.

What a settings preview runs: the very functions the workers use (evaluate_answer,
evaluate_silence), applied to the events in the order they happened, so "what would these
settings have raised" is answered by the same rules that raise alerts for real.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from shared.detection.history import History
from shared.detection.rules import Answer, evaluate_answer, evaluate_silence
from shared.practice.settings import DipRules
from shared.survey.items import SurveyItem


@dataclass(frozen=True)
class PastEvent:
    """An answer, or (answer None) an invitation that expired unanswered."""

    client_id: UUID
    clinician_id: UUID
    at: datetime
    answer: Answer | None = None


@dataclass(frozen=True)
class AlertCounts:
    alerts: int = 0
    # An alert counts once under every rule that contributed to it.
    by_rule: Counter[str] = field(default_factory=Counter)
    by_clinician: Counter[UUID] = field(default_factory=Counter)


def replay(
    events: Iterable[PastEvent],
    rules: DipRules,
    items: Sequence[SurveyItem],
    *,
    counted_from: datetime,
) -> AlertCounts:
    """How many alerts the rules raise for events at or after counted_from.

    Earlier events only build each client's history, as they did when they happened.
    """
    histories: dict[UUID, History] = {}
    alerts = 0
    by_rule: Counter[str] = Counter()
    by_clinician: Counter[UUID] = Counter()
    for event in sorted(events, key=lambda e: e.at):
        history = histories.get(event.client_id, History())
        if event.answer is None:
            findings, history = evaluate_silence(history, rules)
        else:
            findings, history = evaluate_answer(history, event.answer, rules, items)
        histories[event.client_id] = history
        if findings and event.at >= counted_from:
            alerts += 1
            by_rule.update({finding.rule for finding in findings})
            by_clinician[event.clinician_id] += 1
    return AlertCounts(alerts=alerts, by_rule=by_rule, by_clinician=by_clinician)
