"""The running summary of a client's answers: exact integer sums of the answer means."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Iterable
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.detection.history import MEAN_UNITS, History, mean_units

# Answer means live on the 1..5 scale; with 3 to 5 items they are multiples of 1/3, 1/4, 1/5.
answer_means = st.floats(min_value=1.0, max_value=5.0, allow_nan=False, allow_infinity=False)
item_means = st.builds(
    lambda total, count: total / count,
    st.integers(min_value=3, max_value=25),
    st.sampled_from([3, 4, 5]),
).filter(lambda value: 1.0 <= value <= 5.0)


def fold(means: Iterable[float], start: History | None = None) -> History:
    history = start if start is not None else History()
    for mean in means:
        history = history.with_answer(mean)
    return history


def trailing_declines(means: list[float]) -> int:
    count = 0
    for earlier, later in zip(reversed(means[:-1]), reversed(means[1:]), strict=True):
        if later < earlier:
            count += 1
        else:
            break
    return count


def test_empty_history_has_no_baseline() -> None:
    history = History()
    assert history.answered == 0
    assert history.mean == 0.0
    assert history.sd == 0.0
    assert history.last_mean is None
    assert history.decline_streak == 0
    assert history.unanswered_streak == 0


def test_one_answer_sets_the_baseline_and_has_no_spread() -> None:
    history = History().with_answer(3.8)
    assert history.answered == 1
    assert history.mean == pytest.approx(3.8)
    assert history.sd == 0.0
    assert history.total == mean_units(3.8)
    assert history.last_mean == 3.8
    assert history.decline_streak == 0


def test_known_sequence_matches_the_textbook_figures() -> None:
    means = [4.0, 5.0, 4.0, 5.0]
    history = fold(means)
    assert history.answered == 4
    assert history.mean == pytest.approx(4.5)
    # sample sd: sqrt(4 * 0.25 / 3)
    assert history.sd == pytest.approx((1.0 / 3.0) ** 0.5)
    assert (history.total, history.total_sq) == (18 * MEAN_UNITS, 82 * MEAN_UNITS**2)
    assert history.last_mean == 5.0


def test_sd_is_the_sample_not_the_population_deviation() -> None:
    history = fold([2.0, 4.0])
    assert history.sd == pytest.approx(statistics.stdev([2.0, 4.0]))
    assert history.sd != pytest.approx(statistics.pstdev([2.0, 4.0]))


@given(st.lists(item_means, min_size=1, max_size=60))
def test_mean_matches_fmean(means: list[float]) -> None:
    history = fold(means)
    assert history.answered == len(means)
    assert history.mean == pytest.approx(statistics.fmean(means), rel=1e-9, abs=1e-9)
    assert history.last_mean == means[-1]


@given(st.lists(item_means, min_size=2, max_size=60))
def test_sd_matches_stdev(means: list[float]) -> None:
    history = fold(means)
    assert history.sd == pytest.approx(statistics.stdev(means), rel=1e-7, abs=1e-7)


@given(st.lists(item_means, min_size=2, max_size=40), st.randoms(use_true_random=False))
def test_order_of_prior_answers_does_not_change_mean_or_sd(
    means: list[float], random: Random
) -> None:
    shuffled = list(means)
    random.shuffle(shuffled)
    one, other = fold(means), fold(shuffled)
    # Exactly equal, not merely close: the sums are integers.
    assert (one.answered, one.total, one.total_sq) == (other.answered, other.total, other.total_sq)
    assert one.mean == other.mean
    assert one.sd == other.sd


@given(st.lists(item_means, min_size=2, max_size=30))
def test_reversed_order_gives_the_same_baseline(means: list[float]) -> None:
    forward, backward = fold(means), fold(reversed(means))
    assert forward.mean == backward.mean
    assert forward.sd == backward.sd


@given(st.integers(min_value=3, max_value=10), st.integers(min_value=3, max_value=50))
def test_every_possible_answer_mean_is_an_exact_number_of_units(items: int, total: int) -> None:
    """Any survey (3 to 10 items, whole scores) has a mean the sums hold without rounding."""
    mean = total / items
    assert mean_units(mean) * items == total * MEAN_UNITS


@given(item_means, st.integers(min_value=1, max_value=50))
def test_a_client_who_never_varies_has_exactly_zero_spread(mean: float, times: int) -> None:
    history = fold([mean] * times)
    assert history.sd == 0.0
    assert history.mean == pytest.approx(mean)


@given(st.lists(answer_means, min_size=2, max_size=40))
def test_the_spread_is_never_negative_even_for_any_float(means: list[float]) -> None:
    history = fold(means)
    assert history.answered * history.total_sq - history.total**2 >= 0
    assert history.sd >= 0.0


def test_ten_thousand_answers_fit_the_database_columns() -> None:
    history = fold([5.0] * 10_000)
    assert history.total_sq < 2**63  # a BIGINT
    assert history.mean == 5.0


@given(st.lists(item_means, min_size=1, max_size=40))
def test_baseline_stays_within_the_answers(means: list[float]) -> None:
    history = fold(means)
    assert min(means) - 1e-9 <= history.mean <= max(means) + 1e-9


def test_decline_streak_counts_strict_falls_in_a_row() -> None:
    history = fold([5.0, 4.6])
    assert history.decline_streak == 1
    history = history.with_answer(4.2)
    assert history.decline_streak == 2
    history = history.with_answer(3.0)
    assert history.decline_streak == 3


def test_an_equal_answer_ends_the_decline_streak() -> None:
    history = fold([5.0, 4.6, 4.2])
    assert history.decline_streak == 2
    assert history.with_answer(4.2).decline_streak == 0


def test_a_rise_ends_the_decline_streak() -> None:
    history = fold([5.0, 4.6, 4.8])
    assert history.decline_streak == 0
    assert history.with_answer(4.0).decline_streak == 1


def test_the_first_answer_is_never_a_decline() -> None:
    assert History().with_answer(1.0).decline_streak == 0


@given(st.lists(item_means, min_size=1, max_size=30))
def test_decline_streak_is_the_run_of_trailing_falls(means: list[float]) -> None:
    assert fold(means).decline_streak == trailing_declines(means)


def test_silence_counts_up_and_leaves_the_baseline_alone() -> None:
    before = fold([4.0, 5.0, 3.0])
    after = before.with_silence().with_silence()
    assert after.unanswered_streak == 2
    assert after.answered == before.answered
    assert after.mean == before.mean
    assert (after.total, after.total_sq) == (before.total, before.total_sq)
    assert after.last_mean == before.last_mean
    assert after.decline_streak == before.decline_streak


def test_an_answer_ends_the_silence() -> None:
    history = History().with_silence().with_silence().with_silence()
    assert history.unanswered_streak == 3
    assert history.with_answer(4.0).unanswered_streak == 0


def test_silence_does_not_break_a_decline_streak() -> None:
    history = fold([5.0, 4.0]).with_silence()
    assert history.with_answer(3.0).decline_streak == 2


def test_updates_return_new_summaries_and_leave_the_old_one_unchanged() -> None:
    before = fold([4.0, 4.5])
    snapshot = dataclasses.asdict(before)
    before.with_answer(1.0)
    before.with_silence()
    assert dataclasses.asdict(before) == snapshot


def test_history_is_frozen() -> None:
    history = History()
    with pytest.raises(dataclasses.FrozenInstanceError):
        history.mean = 3.0  # type: ignore[misc]
