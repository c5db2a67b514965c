"""Practice figures: the arithmetic only. Counts in, rates out; no database.

A rate with nothing to divide by is None ("no data"), never 0 or 100%, so a quiet month does
not read as a perfect or a failing one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta


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


# --- by month ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    """One calendar month of a date range, clipped to the range (a range starting on the 15th
    has a first month of the 15th to the 31st)."""

    key: str  # "2026-03"
    label: str  # "Mar 2026"
    first_day: date
    last_day: date


def months_between(first_day: date, last_day: date) -> list[Month]:
    """The calendar months from first_day to last_day inclusive, in order."""
    months: list[Month] = []
    start = first_day
    while start <= last_day:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = min(following - timedelta(days=1), last_day)
        months.append(Month(start.strftime("%Y-%m"), start.strftime("%b %Y"), start, end))
        start = following
    return months


# --- by suggested move -----------------------------------------------------------------


@dataclass(frozen=True)
class MoveFigures:
    """How alerts that suggested one move turned out."""

    move: str
    alerts: int  # alerts in the range that suggested this move
    repaired: int
    not_repaired: int
    repair_rate: float | None  # repaired / (repaired + not repaired)


def figures_per_move(
    alerts: Iterable[tuple[Sequence[str], str | None]], order: Sequence[str] = ()
) -> list[MoveFigures]:
    """Repair rate per move from (moves, outcome) per alert; outcome "repaired",
    "not_repaired" or None (no answer since). An alert counts once under each of its moves.
    Moves come in `order` first, then any others by name; a move in `order` with no alert
    is listed with zeros, so the table always has the same rows."""
    seen: dict[str, list[int]] = {move: [0, 0, 0] for move in order}
    for moves, outcome in alerts:
        for move in dict.fromkeys(moves):  # a move listed twice still counts once
            counts = seen.setdefault(move, [0, 0, 0])
            counts[0] += 1
            counts[1] += outcome == "repaired"
            counts[2] += outcome == "not_repaired"
    ranked = [m for m in order if m in seen] + sorted(m for m in seen if m not in order)
    return [
        MoveFigures(
            move=move,
            alerts=seen[move][0],
            repaired=seen[move][1],
            not_repaired=seen[move][2],
            repair_rate=_ratio(seen[move][1], seen[move][1] + seen[move][2]),
        )
        for move in ranked
    ]
