"""An alert's evidence and outcome in plain words, for the clinician's own eyes.

"Pace: 2 of 5, below your practice's floor of 3"; "Overall 3.2, down 0.9 from their usual
4.1". Pure functions: the pages, the JSON API and any later email use these same words. Unlike
shared/alerts/explain.py (what a nudge email may say), these carry the numbers, so they belong
on a signed-in page, never in an email to a clinician.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from shared.models import RepairOutcome
from shared.survey.items import SCALE_MAX, SurveyItem

# Short names for the built-in items, as a clinician would say them aloud. A practice's own
# items are named by their topic.
ITEM_NAMES: dict[str, str] = {
    "honest": "Honesty",
    "disagree": "Room to disagree",
    "respected": "Feeling respected",
    "input": "Invited input",
    "pace": "Pace",
}


def tenths(value: float) -> Decimal:
    """A mean as people round it: one decimal, halves up (3.25 reads 3.3, not 3.2)."""
    return Decimal(repr(round(value, 6))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def number(value: float) -> str:
    """A threshold or score without a needless ".0": 3, 4.5, 0.75."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def item_name(key: str, items: Mapping[str, SurveyItem]) -> str:
    if key in ITEM_NAMES:
        return ITEM_NAMES[key]
    item = items.get(key)
    return item.topic if item is not None else key.replace("_", " ").capitalize()


def _times(count: float) -> str:
    whole = int(count)
    return "once" if whole == 1 else "twice" if whole == 2 else f"{whole} times"


def _compared(value: float, line: float) -> str:
    return "at" if abs(value - line) < 1e-9 else "below"


def finding_lines(finding: Mapping[str, Any], items: Mapping[str, SurveyItem]) -> list[str]:
    """One finding's evidence, a sentence per number worth saying."""
    rule = finding["rule"]
    numbers: Mapping[str, float] = finding.get("numbers", {})
    if rule == "floor":
        floor = numbers["floor"]
        lines = []
        for key in finding.get("items", []):
            score = numbers.get(f"score.{key}")
            if score is None:
                continue
            lines.append(
                f"{item_name(key, items)}: {number(score)} of {SCALE_MAX}, "
                f"{_compared(score, floor)} your practice's floor of {number(floor)}"
            )
        return lines
    if rule == "low_overall":
        mean, floor = tenths(numbers["mean"]), numbers["floor"]
        return [f"Overall {mean}, below your practice's line of {number(floor)}"]
    if rule == "drop":
        mean, baseline = tenths(numbers["mean"]), tenths(numbers["baseline"])
        line = f"Overall {mean}, down {baseline - mean} from their usual {baseline}"
        if "in_sd" in numbers and numbers.get("sd"):
            spread = numbers["drop"] / numbers["sd"]
            line += (
                f" ({tenths(spread)} times their usual ups and downs; your practice looks at "
                f"{number(numbers['in_sd'])})"
            )
        return [line]
    if rule == "sudden_drop":
        mean, previous = tenths(numbers["mean"]), tenths(numbers["previous"])
        return [f"Overall {mean}, down {previous - mean} from {previous} the session before"]
    if rule == "decline_streak":
        return [f"Overall lower than the session before, {_times(numbers['declines'])} in a row"]
    if rule == "asked":
        return ["They said they would like to talk about how therapy is going"]
    if rule == "silence":
        return [f"The last {int(numbers['unanswered'])} surveys went unanswered"]
    return [f"The {rule.replace('_', ' ')} rule found a dip"]


def evidence_lines(
    evidence: Iterable[Mapping[str, Any]], items: Mapping[str, SurveyItem]
) -> list[str]:
    """Every finding of an alert in words, each line once (two rules can say the same)."""
    lines: list[str] = []
    for finding in evidence:
        lines.extend(finding_lines(finding, items))
    return list(dict.fromkeys(lines))


def outcome_line(
    repair: RepairOutcome | None, repair_mean: float | None, repair_target: float | None
) -> str:
    """Whether the alliance recovered, as the client's next answer after the nudge said.
    "Back" is where they stood before the dip: their usual level, or for a client with no
    earlier answers the practice's line for a low session (shared.detection.repair)."""
    if repair is None or repair_mean is None:
        return "Waiting for their first answer after the session you were nudged about."
    answered = tenths(repair_mean)
    if repair_target is None:
        return (
            f"Recovered: overall {answered} next time."
            if repair is RepairOutcome.REPAIRED
            else f"Not recovered yet: overall {answered} next time."
        )
    back = tenths(repair_target)
    if repair is RepairOutcome.REPAIRED:
        return f"Recovered: overall {answered} next time, back to {back} or above."
    return f"Not recovered yet: overall {answered} next time, below the {back} that counts as back."
