"""Did the relationship recover? The client's first answer after a nudged session says.

An alert remembers where the client stood before the dip (their baseline); the next answer
after the session the clinician was nudged about is repaired when it is back there.
"""

from __future__ import annotations

from shared.detection.history import History
from shared.detection.rules import TOLERANCE
from shared.practice.settings import DipRules


def repair_target(before_dip: History, rules: DipRules) -> float:
    """The mean that counts as 'back': the client's baseline before the dip, or, for a client
    with no answers yet, the practice's own line for a low session."""
    if before_dip.answered > 0:
        return before_dip.mean
    return rules.low_overall.floor


def is_repaired(answer_mean: float, target: float) -> bool:
    return answer_mean >= target - TOLERANCE
