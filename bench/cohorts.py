"""How well the dip rules find planted ruptures, beside the rules clinics use today.

Simulates a cohort (shared.cohort: every assumption a parameter with its default), runs the
real evaluate_answer and evaluate_silence over it with the shipped default settings, and
prints, for the settings as a whole and each rule alone: ruptures found, sessions to
detection, false alarms per 100 rupture-free sessions and alerts per clinician per week;
then the same for the anchor rules (an SRS-like absolute cutoff, OpenFIT-like "below the
previous session"), at their published setting and at the setting matched to the defaults'
false-alarm rate; then the grid of cohorts the defaults are tested on, and a grid of small
ruptures where they are not. A simulation, not a clinical trial.

    .venv/bin/python bench/cohorts.py [--clinicians 20] [--seed 0] [--grid-clinicians 6]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from shared.cohort.comparison import ANCHORS, GRID_AXES, compare, grid
from shared.cohort.model import CohortModel, simulate
from shared.cohort.scoring import (
    Performance,
    anchor_performance,
    matched_anchor,
    rule_performance,
)
from shared.practice.settings import DipRules, PracticeSettings

ITEMS = PracticeSettings().known_items
# The defaults before the cohort measurements: no item drop, any two falls a streak, two
# unanswered surveys a silence.
BEFORE = DipRules.model_validate(
    {
        "item_drop": {"enabled": False},
        "decline_streak": {"min_fall": 0},
        "silence": {"count": 2},
    }
)
# Gumz et al. (2012): a rupture is a fall of at least 1 (or 2) of the client's own SDs.
GUMZ = {
    "Gumz-style drop of 1 SD (drop rule alone)": DipRules.model_validate({"drop": {"in_sd": 1.0}}),
    "Gumz-style drop of 2 SD (drop rule alone)": DipRules.model_validate({"drop": {"in_sd": 2.0}}),
}


def row(name: str, performance: Performance) -> str:
    delay = performance.sessions_to_detection
    return (
        f"| {name} | {performance.found_share:.0%} ({performance.found}/{performance.ruptures})"
        f" | {'-' if delay is None else f'{delay:.2f}'}"
        f" | {performance.false_alarms_per_100:.1f}"
        f" | {performance.alerts_per_clinician_week:.2f} |"
    )


def table(rows: Iterable[str]) -> None:
    print(
        "| rule | ruptures found | sessions to detection | false alarms per 100 "
        "rupture-free sessions | alerts per clinician per week |"
    )
    print("|---|---|---|---|---|")
    for line in rows:
        print(line)


def assumptions(model: CohortModel) -> None:
    print("| parameter | default | what it is |")
    print("|---|---|---|")
    for name, field in CohortModel.model_fields.items():
        print(f"| {name} | {getattr(model, name)} | {field.description} |")


def grid_table(
    base: CohortModel, rules: DipRules, grid_axes: dict[str, tuple[float, ...]] = GRID_AXES
) -> int:
    cells = [base, *grid(base, grid_axes)]
    axes = list(grid_axes)
    print(
        "| cell | "
        + " | ".join(axes)
        + " | defaults: found / false alarms | "
        + " | ".join(f"{anchor.name} at matched noise" for anchor in ANCHORS)
        + " | defaults win |"
    )
    print("|---" * (len(axes) + 4 + len(ANCHORS) - 1) + "|")
    wins = 0
    for number, model in enumerate(cells):
        comparison = compare(model, number, rules, ITEMS)
        ours = comparison.settings
        wins += comparison.defaults_win
        rivals = " | ".join(
            f"{rival.found_share:.0%} / {rival.false_alarms_per_100:.1f} "
            f"({rival.name.split(': ', 1)[1]})"
            for rival in comparison.matched
        )
        values = " | ".join(str(getattr(model, axis)) for axis in axes)
        print(
            f"| {number} | {values} | {ours.found_share:.0%} / {ours.false_alarms_per_100:.1f}"
            f" | {rivals} | {'yes' if comparison.defaults_win else 'NO'} |"
        )
    print(f"\nThe defaults win on {wins} of {len(cells)} cohorts.\n")
    return wins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid-clinicians", type=int, default=6)
    args = parser.parse_args()

    model = CohortModel(clinicians=args.clinicians)
    rules = PracticeSettings().rules
    print("## The cohort model (defaults)\n")
    assumptions(model)

    cohort = simulate(model, args.seed)
    sessions = sum(len(client.sessions) for client in cohort.clients)
    print(
        f"\n## Default cohort: {len(cohort.clients)} clients of {model.clinicians} clinicians, "
        f"{model.sessions} weekly sessions each ({sessions} sessions), "
        f"{len(cohort.ruptures)} planted ruptures, seed {args.seed}\n"
    )
    ours = rule_performance(cohort, rules, ITEMS)
    before = rule_performance(cohort, BEFORE, ITEMS)
    lines = [row("**Attune defaults (all rules on by default)**", ours["settings"])]
    lines += [
        row(
            f"of which {name}{'' if getattr(rules, name).enabled else ' (off by default)'}",
            ours[name],
        )
        for name in DipRules.model_fields
    ]
    lines.append(row("Attune defaults before this measurement", before["settings"]))
    for name, gumz in GUMZ.items():
        lines.append(row(name, rule_performance(cohort, gumz, ITEMS)["drop"]))
    noise = ours["settings"].false_alarms_per_100
    for anchor in ANCHORS:
        lines.append(row(f"{anchor.label} (published setting)", anchor_performance(cohort, anchor)))
        matched = matched_anchor(cohort, anchor, noise)
        lines.append(row(f"{matched.name} (matched to the defaults' false alarms)", matched))
    table(lines)

    print(f"\n## Grid: {args.grid_clinicians} clinicians per cohort, seed = cell number\n")
    grid_table(CohortModel(clinicians=args.grid_clinicians), rules)
    print("## Small ruptures (a fall of 1 scale point on one or two items): not in the bar\n")
    small = {axis: values for axis, values in GRID_AXES.items() if axis != "rupture_size"}
    grid_table(CohortModel(clinicians=args.grid_clinicians, rupture_size=1.0), rules, small)


if __name__ == "__main__":
    main()
