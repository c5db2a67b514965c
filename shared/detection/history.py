"""A client's running summary: what detection needs to know about the past, in constant size.

Updating it with one answer costs the same whatever the length of the history, which is what
keeps evaluation at a constant cost per answer (Welford's online mean and variance).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class History:
    answered: int = 0
    mean: float = 0.0  # mean of the client's answer means: their own baseline
    m2: float = 0.0  # sum of squared deviations from that mean (Welford)
    last_mean: float | None = None
    decline_streak: int = 0  # how many answers in a row fell below the one before
    unanswered_streak: int = 0  # how many invitations in a row expired unanswered

    @property
    def sd(self) -> float:
        """Sample standard deviation of the answer means (0 until there are two)."""
        if self.answered < 2:
            return 0.0
        return math.sqrt(self.m2 / (self.answered - 1))

    def with_answer(self, answer_mean: float) -> History:
        answered = self.answered + 1
        delta = answer_mean - self.mean
        mean = self.mean + delta / answered
        m2 = self.m2 + delta * (answer_mean - mean)
        fell = self.last_mean is not None and answer_mean < self.last_mean
        return History(
            answered=answered,
            mean=mean,
            m2=m2,
            last_mean=answer_mean,
            decline_streak=self.decline_streak + 1 if fell else 0,
            unanswered_streak=0,
        )

    def with_silence(self) -> History:
        return replace(self, unanswered_streak=self.unanswered_streak + 1)
