"""A client's running summary: what detection needs to know about the past, in constant size.

Updating it with one answer costs the same whatever the length of the history, which is what
keeps evaluation at a constant cost per answer.

The baseline and spread are kept as exact integer sums rather than a floating-point running
mean (Welford): an answer's mean is a whole-number total over at most ten items, so it is an
exact multiple of 1/2520 (the least common multiple of 1..10). Summing those multiples in
integers makes the baseline and the standard deviation the same to the last bit whatever
order the answers were stored in, so no dip decision can hinge on the order of evaluation.

Each item keeps its own count, sum and sum of squares of whole scores (exact integers too), so
an item can be compared with its own baseline: ruptures are usually about one thing. A survey
has at most ten items, so this stays constant in size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

# lcm(1, ..., 10): a survey has 3 to 5 built-in items plus at most 5 custom ones.
MEAN_UNITS = 2520


def mean_units(answer_mean: float) -> int:
    """An answer's mean in exact units of 1/MEAN_UNITS."""
    return round(answer_mean * MEAN_UNITS)


@dataclass(frozen=True)
class ItemSums:
    """One item's answers so far: how many, their sum and the sum of their squares."""

    answered: int = 0
    total: int = 0
    total_sq: int = 0

    @property
    def mean(self) -> float:
        return self.total / self.answered if self.answered else 0.0

    @property
    def sd(self) -> float:
        n = self.answered
        if n < 2:
            return 0.0
        return math.sqrt((n * self.total_sq - self.total * self.total) / (n * (n - 1)))

    def with_score(self, score: int) -> ItemSums:
        return ItemSums(self.answered + 1, self.total + score, self.total_sq + score * score)


@dataclass(frozen=True)
class History:
    answered: int = 0
    total: int = 0  # sum of the answer means, in units of 1/MEAN_UNITS
    total_sq: int = 0  # sum of their squares, in those units squared
    last_mean: float | None = None
    decline_streak: int = 0  # how many answers in a row fell below the one before
    unanswered_streak: int = 0  # how many invitations in a row expired unanswered
    # The mean the current decline streak fell from (None without a streak): how far the
    # streak has fallen in all, whatever its length.
    streak_from: float | None = None
    # Per item, sorted by key (a tuple so the summary stays hashable and comparable).
    items: tuple[tuple[str, ItemSums], ...] = ()

    def item(self, key: str) -> ItemSums:
        for name, sums in self.items:
            if name == key:
                return sums
        return ItemSums()

    @property
    def mean(self) -> float:
        """The client's own baseline: the mean of their answer means (0 before any)."""
        if self.answered == 0:
            return 0.0
        return self.total / (self.answered * MEAN_UNITS)

    @property
    def sd(self) -> float:
        """Sample standard deviation of the answer means (0 until there are two)."""
        n = self.answered
        if n < 2:
            return 0.0
        # n * sum(x^2) - sum(x)^2 is exact in integers, so never negative and never noisy.
        spread = n * self.total_sq - self.total * self.total
        return math.sqrt(spread / (n * (n - 1))) / MEAN_UNITS

    def with_answer(self, answer_mean: float, scores: Mapping[str, int] | None = None) -> History:
        """The summary with one more answer; `scores` (the answer's item scores) feed the
        per-item sums, which stay as they were without them."""
        units = mean_units(answer_mean)
        fell = self.last_mean is not None and answer_mean < self.last_mean
        streak_from = None
        if fell:
            streak_from = self.streak_from if self.decline_streak else self.last_mean
        items = self.items
        if scores:
            by_key = dict(self.items)
            for key, score in scores.items():
                by_key[key] = by_key.get(key, ItemSums()).with_score(score)
            items = tuple(sorted(by_key.items()))
        return History(
            answered=self.answered + 1,
            total=self.total + units,
            total_sq=self.total_sq + units * units,
            last_mean=answer_mean,
            decline_streak=self.decline_streak + 1 if fell else 0,
            unanswered_streak=0,
            streak_from=streak_from,
            items=items,
        )

    def with_silence(self) -> History:
        return replace(self, unanswered_streak=self.unanswered_streak + 1)
