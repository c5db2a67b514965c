"""The rules clinics use today, as anchors to measure Attune's rules against.

Both look only at the answer's mean (and the previous answer's), as the instruments behind
them look at a total score: an absolute cutoff like the Session Rating Scale's (concern under
36 of 40) and "lower than the previous session" like OpenFIT's (a fall of 1 point of 40).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.detection.rules import TOLERANCE
from shared.survey.items import SCALE_MAX, SCALE_MIN

SRS_TOTAL = 40  # the Session Rating Scale: four lines of 0 to 10


def _rescaled(srs_points: float) -> float:
    """SRS points (of 40) as points on Attune's 1-5 mean."""
    return srs_points / SRS_TOTAL * (SCALE_MAX - SCALE_MIN)


@dataclass(frozen=True)
class Anchor:
    """An alert when the mean is below `cutoff` (kind "cutoff"), or at least `threshold` below
    the previous answered session's mean (kind "previous")."""

    name: str
    kind: str
    threshold: float

    def fires(self, previous: float | None, mean: float) -> bool:
        if self.kind == "cutoff":
            return mean < self.threshold - TOLERANCE
        if previous is None:
            return False
        fall = previous - mean
        return fall > 0 and fall >= self.threshold - TOLERANCE

    @property
    def label(self) -> str:
        if self.kind == "cutoff":
            return f"{self.name}: mean under {self.threshold:.2f}"
        return f"{self.name}: mean {self.threshold:.2f}+ below the previous session"

    def at(self, threshold: float) -> Anchor:
        return Anchor(name=self.name, kind=self.kind, threshold=threshold)

    def sweep(self) -> list[Anchor]:
        """The same rule at every setting a clinic could pick, strictest to loosest in
        false alarms: for the curve it is compared along."""
        steps = [round(0.05 * step, 2) for step in range(1, 81)]
        if self.kind == "cutoff":
            return [self.at(SCALE_MIN + value) for value in steps if SCALE_MIN + value <= SCALE_MAX]
        return [self.at(value) for value in steps]


def srs_like_cutoff(srs_points: float = 36) -> Anchor:
    """Concern when the mean is under the SRS's 36 of 40, rescaled: a mean under 4.6."""
    return Anchor(
        name="SRS-like cutoff",
        kind="cutoff",
        threshold=SCALE_MIN + _rescaled(srs_points),
    )


def previous_session_drop(srs_points: float = 1) -> Anchor:
    """Concern when the mean falls at least 1 SRS point (of 40), rescaled, below the previous
    answered session: 0.1 on the 1-5 mean, so any fall a five-item survey can show."""
    return Anchor(
        name="OpenFIT-like previous session",
        kind="previous",
        threshold=_rescaled(srs_points),
    )
