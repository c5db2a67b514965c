"""Safety-dip detection: history summary + a new answer + the practice's rules -> findings.

Pure functions, no I/O: the API, the workers and the settings preview all call these same
rules, and the tests exercise them without a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import fmean

from shared.detection.history import History
from shared.practice.settings import DipRules, DropRule
from shared.survey.items import SCALE_MAX, SurveyItem
from shared.survey.moves import MOVE_ORDER, Move

# Means are floats: 4.6 - 3.6 is 0.9999999999999996, yet the mean fell a full point. A drop
# this close to its threshold counts as reaching it.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Answer:
    scores: Mapping[str, int]
    asked_to_talk: bool = False

    @property
    def mean(self) -> float:
        return fmean(self.scores.values())


@dataclass(frozen=True)
class Finding:
    """One rule that fired, with the evidence an owner can check it against."""

    rule: str
    moves: tuple[Move, ...]
    items: tuple[str, ...] = ()
    numbers: Mapping[str, float] = field(default_factory=dict)

    def as_evidence(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "items": list(self.items),
            "numbers": {key: round(value, 3) for key, value in self.numbers.items()},
            "moves": [move.value for move in self.moves],
        }


def moves_of(findings: Iterable[Finding]) -> tuple[Move, ...]:
    """The suggested moves of several findings, each once, relational first."""
    wanted = {move for finding in findings for move in finding.moves}
    return tuple(move for move in MOVE_ORDER if move in wanted)


def _item_moves(keys: Iterable[str], items: Mapping[str, SurveyItem]) -> tuple[Move, ...]:
    wanted = {items[key].move for key in keys if key in items}
    return tuple(move for move in MOVE_ORDER if move in wanted) or (Move.INVITE_FEEDBACK,)


def _lowest_items(answer: Answer) -> tuple[str, ...]:
    """The items that pulled an overall dip down: those at the answer's lowest score."""
    lowest = min(answer.scores.values())
    if lowest >= SCALE_MAX:
        return ()
    return tuple(sorted(key for key, score in answer.scores.items() if score == lowest))


def _spread(history: History, rule: DropRule) -> float:
    """The client's own standard deviation, shrunk toward the typical client's while their
    history is short: `prior_answers` pseudo-answers at the typical spread are pooled with the
    client's own (as in a conjugate prior on the variance), so a client with three steady
    answers is not held to a spread of almost nothing, and their own spread takes over as
    answers accumulate."""
    if rule.prior_answers == 0:
        return history.sd
    own = max(history.answered - 1, 0)
    pooled = own * history.sd**2 + rule.prior_answers * rule.typical_sd**2
    return math.sqrt(pooled / (own + rule.prior_answers))


def evaluate_answer(
    history: History,
    answer: Answer,
    rules: DipRules,
    items: Sequence[SurveyItem],
) -> tuple[list[Finding], History]:
    """Findings for one new answer, and the history that includes it."""
    by_key = {item.key: item for item in items}
    mean = answer.mean
    lowest = _lowest_items(answer)
    overall_moves = _item_moves(lowest, by_key)
    findings: list[Finding] = []

    if rules.floor.enabled:
        low = tuple(sorted(k for k, s in answer.scores.items() if s <= rules.floor.floor))
        if low:
            findings.append(
                Finding(
                    rule="floor",
                    items=low,
                    moves=_item_moves(low, by_key),
                    numbers={
                        "floor": rules.floor.floor,
                        **{f"score.{key}": answer.scores[key] for key in low},
                    },
                )
            )

    if rules.low_overall.enabled and mean < rules.low_overall.floor:
        findings.append(
            Finding(
                rule="low_overall",
                items=lowest,
                moves=overall_moves,
                numbers={"mean": mean, "floor": rules.low_overall.floor},
            )
        )

    drop_rule = rules.drop
    if drop_rule.enabled and history.answered >= drop_rule.min_history:
        drop = history.mean - mean
        threshold = drop_rule.points
        numbers = {"mean": mean, "baseline": history.mean, "drop": drop}
        # A client whose answers never varied has no spread to measure in; the fixed
        # threshold stands in for it rather than flagging every tiny wobble.
        spread = _spread(history, drop_rule)
        if drop_rule.in_sd is not None and spread > 0:
            threshold = drop_rule.in_sd * spread
            numbers |= {"sd": spread, "in_sd": drop_rule.in_sd}
        if drop > 0 and drop >= threshold - TOLERANCE:
            findings.append(
                Finding(
                    rule="drop",
                    items=lowest,
                    moves=overall_moves,
                    numbers=numbers | {"threshold": threshold},
                )
            )

    item_rule = rules.item_drop
    if item_rule.enabled:
        dropped = {
            key: history.item(key).mean - score
            for key, score in answer.scores.items()
            if history.item(key).answered >= item_rule.min_history
        }
        fell = tuple(
            sorted(
                key
                for key, drop in dropped.items()
                if drop > 0 and drop >= item_rule.points - TOLERANCE
            )
        )
        if fell:
            findings.append(
                Finding(
                    rule="item_drop",
                    items=fell,
                    moves=_item_moves(fell, by_key),
                    numbers={
                        "threshold": item_rule.points,
                        **{f"baseline.{key}": history.item(key).mean for key in fell},
                        **{f"score.{key}": answer.scores[key] for key in fell},
                    },
                )
            )

    sudden = rules.sudden_drop
    if sudden.enabled and history.last_mean is not None:
        drop = history.last_mean - mean
        if drop > 0 and drop >= sudden.points - TOLERANCE:
            findings.append(
                Finding(
                    rule="sudden_drop",
                    items=lowest,
                    moves=overall_moves,
                    numbers={
                        "mean": mean,
                        "previous": history.last_mean,
                        "drop": drop,
                        "threshold": sudden.points,
                    },
                )
            )

    updated = history.with_answer(mean, answer.scores)
    streak = rules.decline_streak
    if streak.enabled and updated.decline_streak >= streak.count:
        assert updated.streak_from is not None  # a streak always remembers where it began
        fall = updated.streak_from - mean
        if fall >= streak.min_fall - TOLERANCE:
            findings.append(
                Finding(
                    rule="decline_streak",
                    items=lowest,
                    moves=overall_moves,
                    numbers={
                        "declines": updated.decline_streak,
                        "count": streak.count,
                        "fall": fall,
                        "min_fall": streak.min_fall,
                    },
                )
            )

    if rules.asked.enabled and answer.asked_to_talk:
        findings.append(
            Finding(rule="asked", moves=(Move.ADDRESS_RELATIONSHIP, Move.INVITE_FEEDBACK))
        )

    return findings, updated


def evaluate_silence(history: History, rules: DipRules) -> tuple[list[Finding], History]:
    """An invitation expired unanswered: silence counts toward a 'no feedback' signal."""
    updated = history.with_silence()
    findings: list[Finding] = []
    if rules.silence.enabled and updated.unanswered_streak >= rules.silence.count:
        findings.append(
            Finding(
                rule="silence",
                moves=(Move.INVITE_FEEDBACK,),
                numbers={"unanswered": updated.unanswered_streak, "count": rules.silence.count},
            )
        )
    return findings, updated
