"""Practice figures: the arithmetic only. Counts in, rates out; no database.

A rate with nothing to divide by is None ("no data"), never 0 or 100%, so a quiet month does
not read as a perfect or a failing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Tally:
    """What happened in a date range, for one clinician or for the whole practice."""

    appointments_completed: int = 0
    invitations_sent: int = 0
    invitations_answered: int = 0  # of those sent in the range
    alerts: int = 0  # dips found in the range
    nudges_sent: int = 0
    acknowledged: int = 0  # of the alerts found in the range
    repaired: int = 0  # of the alerts found in the range
    not_repaired: int = 0
    awaiting_answer: int = 0  # nudged, no answer since: still open

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


@dataclass(frozen=True)
class Figures:
    tally: Tally
    response_rate: float | None  # answered / sent
    dips_per_100_appointments: float | None
    acknowledged_rate: float | None  # acknowledged / alerts
    repair_rate: float | None  # repaired / (repaired + not repaired)


def _ratio(part: int, whole: int, scale: float = 1.0) -> float | None:
    return round(scale * part / whole, 4) if whole else None


def figures_of(tally: Tally) -> Figures:
    return Figures(
        tally=tally,
        response_rate=_ratio(tally.invitations_answered, tally.invitations_sent),
        dips_per_100_appointments=_ratio(tally.alerts, tally.appointments_completed, 100.0),
        acknowledged_rate=_ratio(tally.acknowledged, tally.alerts),
        repair_rate=_ratio(tally.repaired, tally.repaired + tally.not_repaired),
    )


def total(tallies: Iterable[Tally]) -> Tally:
    return sum(tallies, Tally())
