"""Attune's rules beside the anchor rules on the same cohort, and across a grid of cohorts.

The comparison the defaults are held to: on every cohort of the grid, the practice's settings
find more planted ruptures than each anchor rule does at the anchor's setting with the fewest
false alarms that is still at least as noisy as the settings (the anchor at its published
setting is shown too, but a cutoff that raises three times the alerts is no fair rival).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from shared.cohort.anchors import Anchor, previous_session_drop, srs_like_cutoff
from shared.cohort.model import CohortModel, simulate
from shared.cohort.scoring import (
    SETTINGS,
    Performance,
    anchor_performance,
    matched_anchor,
    rule_performance,
)
from shared.practice.settings import DipRules
from shared.survey.items import SurveyItem

ANCHORS: tuple[Anchor, ...] = (srs_like_cutoff(), previous_session_drop())


@dataclass(frozen=True)
class Comparison:
    model: CohortModel
    seed: int
    rules: dict[str, Performance]  # "settings" and each rule alone
    anchors: list[Performance]  # each anchor at its published setting
    matched: list[Performance]  # each anchor at the setting matched to the settings' noise

    @property
    def settings(self) -> Performance:
        return self.rules[SETTINGS]

    @property
    def defaults_win(self) -> bool:
        return all(self.settings.beats(anchor) for anchor in self.matched)


def compare(
    model: CohortModel, seed: int, rules: DipRules, items: Sequence[SurveyItem]
) -> Comparison:
    cohort = simulate(model, seed)
    performance = rule_performance(cohort, rules, items)
    noise = performance[SETTINGS].false_alarms_per_100
    return Comparison(
        model=model,
        seed=seed,
        rules=performance,
        anchors=[anchor_performance(cohort, anchor) for anchor in ANCHORS],
        matched=[matched_anchor(cohort, anchor, noise) for anchor in ANCHORS],
    )


# The grid the defaults must win on: low and high noise, a lower and a higher ceiling, small
# and large ruptures, one-session and longer ruptures.
GRID_AXES: dict[str, tuple[float, ...]] = {
    "item_noise": (0.25, 0.5),
    "alliance": (4.4, 4.8),
    "rupture_size": (1.5, 2.5),
    "rupture_length_max": (1, 3),
}


def grid(base: CohortModel, axes: dict[str, tuple[float, ...]] = GRID_AXES) -> list[CohortModel]:
    """Every combination of the axes' values, the rest of the model as in `base`."""
    names = list(axes)
    return [
        base.model_copy(update=dict(zip(names, values, strict=True)))
        for values in itertools.product(*axes.values())
    ]


@dataclass(frozen=True)
class CohortReplay:
    """What one set of rules raises on the typical cohort, with the truth the simulation knows."""

    alerts: int
    by_rule: dict[str, int]  # alerts each enabled rule contributed to (0 for rules off)
    alerts_per_clinician_week: float
    ruptures_found: float  # share of planted ruptures
    sessions_to_detection: float | None
    false_alarms_per_100: float


def replay_typical_cohort(
    rules: DipRules, items: Sequence[SurveyItem], model: CohortModel | None = None, seed: int = 0
) -> CohortReplay:
    """The rules run over the typical simulated cohort: what a new practice, with no answers
    yet, would see its settings raise."""
    performance = rule_performance(simulate(model or CohortModel(), seed), rules, items)
    settings = performance[SETTINGS]
    return CohortReplay(
        alerts=settings.alerts,
        by_rule={
            name: performance[name].alerts if getattr(rules, name).enabled else 0
            for name in DipRules.model_fields
        },
        alerts_per_clinician_week=settings.alerts_per_clinician_week,
        ruptures_found=settings.found_share,
        sessions_to_detection=settings.sessions_to_detection,
        false_alarms_per_100=settings.false_alarms_per_100,
    )
