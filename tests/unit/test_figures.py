"""The arithmetic of practice figures: counts in, rates out."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.reporting.figures import Tally, figures_of, figures_per_move, months_between, total


def test_rates_from_counts() -> None:
    figures = figures_of(
        Tally(
            appointments_completed=40,
            invitations_sent=38,
            invitations_answered=19,
            alerts=6,
            nudges_sent=5,
            acknowledged=3,
            repaired=2,
            not_repaired=2,
            awaiting_answer=1,
        )
    )
    assert figures.response_rate == 0.5
    assert figures.dips_per_100_appointments == 15.0
    assert figures.acknowledged_rate == 0.5
    assert figures.repair_rate == 0.5


def test_rates_are_rounded_to_four_places() -> None:
    figures = figures_of(Tally(invitations_sent=3, invitations_answered=2))
    assert figures.response_rate == 0.6667


def test_nothing_to_divide_by_gives_no_rate_not_zero() -> None:
    figures = figures_of(Tally())
    assert figures.response_rate is None
    assert figures.dips_per_100_appointments is None
    assert figures.acknowledged_rate is None
    assert figures.repair_rate is None


def test_alerts_still_waiting_for_an_answer_are_not_counted_against_repair() -> None:
    figures = figures_of(Tally(alerts=3, repaired=1, not_repaired=0, awaiting_answer=2))
    assert figures.repair_rate == 1.0
    assert figures_of(Tally(alerts=2, awaiting_answer=2)).repair_rate is None


counts = st.integers(min_value=0, max_value=10_000)
tallies = st.builds(
    Tally,
    appointments_completed=counts,
    invitations_sent=counts,
    alerts=counts,
    nudges_sent=counts,
    repaired=counts,
    not_repaired=counts,
    awaiting_answer=counts,
)


@given(st.lists(tallies, max_size=6))
def test_the_practice_total_is_the_sum_of_its_clinicians(parts: list[Tally]) -> None:
    whole = total(parts)
    assert whole.alerts == sum(part.alerts for part in parts)
    assert whole.repaired == sum(part.repaired for part in parts)
    assert whole.appointments_completed == sum(p.appointments_completed for p in parts)
    assert total([]) == Tally()


@given(tallies)
def test_rates_stay_within_their_bounds(tally: Tally) -> None:
    figures = figures_of(tally)
    if figures.repair_rate is not None:
        assert 0.0 <= figures.repair_rate <= 1.0
    if figures.dips_per_100_appointments is not None:
        assert figures.dips_per_100_appointments == pytest.approx(
            100 * tally.alerts / tally.appointments_completed, abs=1e-4
        )


# --- by month and per move -----------------------------------------------------------------


def test_a_range_splits_into_calendar_months_clipped_to_it() -> None:
    months = months_between(date(2025, 11, 15), date(2026, 2, 3))
    assert [(m.key, m.label, m.first_day, m.last_day) for m in months] == [
        ("2025-11", "Nov 2025", date(2025, 11, 15), date(2025, 11, 30)),
        ("2025-12", "Dec 2025", date(2025, 12, 1), date(2025, 12, 31)),
        ("2026-01", "Jan 2026", date(2026, 1, 1), date(2026, 1, 31)),
        ("2026-02", "Feb 2026", date(2026, 2, 1), date(2026, 2, 3)),
    ]
    assert [m.key for m in months_between(date(2024, 2, 29), date(2024, 2, 29))] == ["2024-02"]
    assert months_between(date(2026, 3, 2), date(2026, 3, 1)) == []


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)), st.integers(0, 800))
def test_the_months_cover_every_day_of_the_range_once(first: date, span: int) -> None:
    last = first + timedelta(days=span)
    months = months_between(first, last)
    assert months[0].first_day == first and months[-1].last_day == last
    assert sum((m.last_day - m.first_day).days + 1 for m in months) == span + 1
    for earlier, later in pairwise(months):
        assert later.first_day == earlier.last_day + timedelta(days=1)
        assert later.first_day.day == 1


def test_repair_rate_per_move_counts_each_alert_under_each_of_its_moves() -> None:
    rows = figures_per_move(
        [
            (["address_relationship", "slow_pace"], "repaired"),
            (["slow_pace"], "not_repaired"),
            (["slow_pace", "slow_pace"], "repaired"),  # listed twice, counted once
            (["invite_feedback"], None),  # no answer since: neither way
        ],
        order=["address_relationship", "invite_feedback", "slow_pace"],
    )
    assert [(r.move, r.alerts, r.repaired, r.not_repaired, r.repair_rate) for r in rows] == [
        ("address_relationship", 1, 1, 0, 1.0),
        ("invite_feedback", 1, 0, 0, None),
        ("slow_pace", 3, 2, 1, 0.6667),
    ]


def test_every_move_in_the_order_is_listed_even_with_no_alert_and_others_follow() -> None:
    rows = figures_per_move([(["custom_move"], "repaired")], order=["invite_feedback"])
    assert [(r.move, r.alerts, r.repair_rate) for r in rows] == [
        ("invite_feedback", 0, None),
        ("custom_move", 1, 1.0),
    ]
