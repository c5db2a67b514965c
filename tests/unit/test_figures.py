"""The arithmetic of practice figures: counts in, rates out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.reporting.figures import Tally, figures_of, total


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
