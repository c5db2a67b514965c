"""Safety-dip detection rules: pure functions, no database."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from fractions import Fraction
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.detection import (
    Answer,
    Finding,
    History,
    evaluate_answer,
    evaluate_silence,
    moves_of,
)
from shared.practice.settings import (
    AskedRule,
    DeclineStreakRule,
    DipRules,
    DropRule,
    FloorRule,
    ItemDropRule,
    LowOverallRule,
    SilenceRule,
    SuddenDropRule,
)
from shared.survey.items import BUILT_IN_ITEMS, SCALE_MAX, SCALE_MIN, SurveyItem
from shared.survey.moves import MOVE_ORDER, Move

ITEMS: list[SurveyItem] = list(BUILT_IN_ITEMS.values())
KEYS: tuple[str, ...] = tuple(BUILT_IN_ITEMS)
RULE_NAMES: tuple[str, ...] = tuple(DipRules.model_fields)
ANSWER_RULES = (
    "floor",
    "low_overall",
    "drop",
    "item_drop",
    "sudden_drop",
    "decline_streak",
    "asked",
)

# Properties draw whole histories of answers; on a shared, loaded machine generating them can
# outrun Hypothesis's speed checks, which say nothing about the rules: the checks on the
# examples themselves stay as they are.
SHARED_MACHINE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

ADDRESS = Move.ADDRESS_RELATIONSHIP
INVITE = Move.INVITE_FEEDBACK
SLOW = Move.SLOW_PACE


# --- helpers -------------------------------------------------------------------------------


def scores(**overrides: int) -> dict[str, int]:
    """All five built-in items at the top of the scale, except the ones given."""
    return {key: SCALE_MAX for key in KEYS} | overrides


def history_of(*means: float) -> History:
    history = History()
    for mean in means:
        history = history.with_answer(mean)
    return history


def only(rule: str, **params: object) -> DipRules:
    """Rules with every rule off except the one named (tuned with params)."""
    data: dict[str, dict[str, object]] = {name: {"enabled": False} for name in RULE_NAMES}
    data[rule] = {"enabled": True, **params}
    return DipRules.model_validate(data)


def none_enabled() -> DipRules:
    return DipRules.model_validate({name: {"enabled": False} for name in RULE_NAMES})


def evaluate(
    history: History,
    answer: Answer | dict[str, int],
    rules: DipRules | None = None,
    items: Sequence[SurveyItem] = ITEMS,
) -> list[Finding]:
    if not isinstance(answer, Answer):
        answer = Answer(answer)
    findings, _ = evaluate_answer(history, answer, rules or DipRules(), items)
    return findings


def fired(findings: Iterable[Finding]) -> list[str]:
    return [finding.rule for finding in findings]


def the(findings: Sequence[Finding], rule: str) -> Finding:
    matching = [finding for finding in findings if finding.rule == rule]
    assert len(matching) == 1, f"expected one {rule!r} finding, got {fired(findings)}"
    return matching[0]


def ordered_moves(moves: Iterable[Move]) -> bool:
    positions = [MOVE_ORDER.index(move) for move in moves]
    return positions == sorted(set(positions))


# --- the answer --------------------------------------------------------------------------


def test_answer_mean_is_the_mean_of_its_scores() -> None:
    assert Answer({"honest": 4, "pace": 3, "input": 5}).mean == pytest.approx(4.0)
    assert Answer(scores(pace=1)).mean == pytest.approx(4.2)


def test_a_good_answer_with_no_history_produces_nothing() -> None:
    findings, updated = evaluate_answer(History(), Answer(scores()), DipRules(), ITEMS)
    assert findings == []
    assert updated.answered == 1
    assert updated.mean == pytest.approx(5.0)


def test_the_returned_history_includes_the_new_answer() -> None:
    history = history_of(4.0, 4.5)
    answer = Answer(scores(pace=2))
    _, updated = evaluate_answer(history, answer, DipRules(), ITEMS)
    assert updated == history.with_answer(answer.mean, answer.scores)
    assert updated.answered == 3
    assert updated.last_mean == pytest.approx(4.4)


def test_no_rules_enabled_means_no_findings() -> None:
    history = history_of(5.0, 5.0, 5.0, 5.0)
    answer = Answer({key: SCALE_MIN for key in KEYS}, asked_to_talk=True)
    assert evaluate(history, answer, none_enabled()) == []
    assert evaluate_silence(history.with_silence().with_silence(), none_enabled())[0] == []


# --- floor -------------------------------------------------------------------------------


def test_floor_flags_items_at_or_below_it_with_their_scores() -> None:
    findings = evaluate(History(), scores(honest=2, pace=1), only("floor"))
    assert fired(findings) == ["floor"]
    finding = findings[0]
    assert finding.items == ("honest", "pace")
    assert finding.numbers == {"floor": 2, "score.honest": 2, "score.pace": 1}
    assert finding.moves == (ADDRESS, SLOW)


def test_floor_default_is_two() -> None:
    assert fired(evaluate(History(), scores(input=3), only("floor"))) == []
    assert fired(evaluate(History(), scores(input=2), only("floor"))) == ["floor"]


def test_floor_is_inclusive() -> None:
    assert fired(evaluate(History(), scores(respected=3), only("floor", floor=3))) == ["floor"]
    assert fired(evaluate(History(), scores(respected=4), only("floor", floor=3))) == []


def test_floor_moves_follow_the_items_that_dipped() -> None:
    assert the(evaluate(History(), scores(disagree=1), only("floor")), "floor").moves == (INVITE,)
    assert the(evaluate(History(), scores(pace=2), only("floor")), "floor").moves == (SLOW,)
    both = the(evaluate(History(), scores(input=1, honest=1), only("floor")), "floor")
    assert both.moves == (ADDRESS, INVITE)  # relational move first


def test_floor_on_an_item_the_detector_does_not_know_suggests_inviting_feedback() -> None:
    answer = {"honest": 5, "pace": 5, "sleep": 1}
    finding = the(evaluate(History(), answer, only("floor")), "floor")
    assert finding.items == ("sleep",)
    assert finding.moves == (INVITE,)


def test_floor_on_a_custom_item_uses_its_move() -> None:
    custom = SurveyItem(
        key="homework", prompt="The homework felt doable.", move=SLOW, topic="The homework"
    )
    answer = {"honest": 5, "pace": 5, "input": 5, "homework": 1}
    finding = the(evaluate(History(), answer, only("floor"), [*ITEMS, custom]), "floor")
    assert finding.items == ("homework",)
    assert finding.moves == (SLOW,)


def test_floor_off() -> None:
    rules = DipRules(floor=FloorRule(enabled=False))
    assert "floor" not in fired(evaluate(History(), scores(honest=1), rules))


def test_the_highest_floor_allowed_flags_everything_short_of_the_top() -> None:
    """A floor of 4 flags any item not at 5; a floor of 5 is refused (see the settings)."""
    finding = the(evaluate(History(), scores(pace=4), only("floor", floor=4)), "floor")
    assert finding.items == ("pace",)
    assert evaluate(History(), scores(), only("floor", floor=4)) == []


# --- low overall -------------------------------------------------------------------------


def test_low_overall_flags_a_mean_below_the_floor() -> None:
    answer = {"honest": 4, "disagree": 4, "respected": 4, "input": 4, "pace": 3}
    findings = evaluate(History(), answer, only("low_overall"))
    assert fired(findings) == ["low_overall"]
    finding = findings[0]
    assert finding.numbers == {"mean": pytest.approx(3.8), "floor": 4.0}
    assert finding.items == ("pace",)  # the item that pulled the mean down
    assert finding.moves == (SLOW,)


def test_low_overall_is_strictly_below() -> None:
    at_floor = {key: 4 for key in KEYS}
    assert evaluate(History(), at_floor, only("low_overall")) == []
    assert fired(evaluate(History(), at_floor, only("low_overall", floor=4.2))) == ["low_overall"]


def test_low_overall_names_every_item_tied_at_the_lowest_score() -> None:
    answer = {"honest": 3, "disagree": 4, "respected": 4, "input": 3, "pace": 4}
    finding = the(evaluate(History(), answer, only("low_overall")), "low_overall")
    assert finding.items == ("honest", "input")
    assert finding.moves == (ADDRESS, INVITE)


def test_low_overall_off() -> None:
    rules = DipRules(low_overall=LowOverallRule(enabled=False))
    answer = {key: 3 for key in KEYS}
    assert "low_overall" not in fired(evaluate(History(), answer, rules))


# --- drop from the client's own baseline -------------------------------------------------


def test_drop_from_baseline() -> None:
    history = history_of(4.6, 4.8, 5.0)  # baseline 4.8
    answer = scores(input=4, pace=1)  # mean 4.0
    findings = evaluate(history, answer, only("drop"))
    assert fired(findings) == ["drop"]
    finding = findings[0]
    assert finding.numbers == {
        "mean": pytest.approx(4.0),
        "baseline": pytest.approx(4.8),
        "drop": pytest.approx(0.8),
        "threshold": 0.75,
    }
    assert finding.items == ("pace",)
    assert finding.moves == (SLOW,)


def test_drop_exactly_at_the_threshold_counts() -> None:
    history = history_of(5.0, 5.0, 5.0)
    answer = {"honest": 5, "disagree": 4, "respected": 4, "input": 4}  # mean 4.25
    finding = the(evaluate(history, answer, only("drop")), "drop")
    assert finding.numbers["drop"] == pytest.approx(0.75)


def test_a_drop_that_reaches_the_threshold_despite_float_noise_counts() -> None:
    history = history_of(4.6, 4.8, 5.0)  # baseline 4.8, computed step by step
    answer = scores(respected=4, input=4, pace=3)  # mean 4.2: exactly 0.6 below
    assert history.mean - Answer(answer).mean < 0.6  # what the floats say
    finding = the(evaluate(history, answer, only("drop", points=0.6)), "drop")
    assert finding.numbers["drop"] == pytest.approx(0.6)


def test_a_smaller_drop_is_not_a_dip() -> None:
    history = history_of(5.0, 5.0, 5.0)
    assert evaluate(history, scores(honest=4, input=4, pace=4), only("drop")) == []  # 0.6


def test_a_rise_is_not_a_drop() -> None:
    history = history_of(3.0, 3.0, 3.0)
    assert evaluate(history, scores(), only("drop", points=0.1)) == []


def test_drop_needs_the_minimum_history() -> None:
    bad = {key: 1 for key in KEYS}
    assert evaluate(history_of(5.0, 5.0), bad, only("drop")) == []  # default min 3
    assert fired(evaluate(history_of(5.0, 5.0, 5.0), bad, only("drop"))) == ["drop"]
    assert fired(evaluate(history_of(5.0), bad, only("drop", min_history=1))) == ["drop"]
    four = history_of(5.0, 5.0, 5.0, 5.0)
    assert evaluate(four, bad, only("drop", min_history=5)) == []


def test_drop_points_are_tunable() -> None:
    history = history_of(5.0, 5.0, 5.0)
    answer = {key: 4 for key in KEYS}  # drop of 1.0
    assert fired(evaluate(history, answer, only("drop", points=1.0))) == ["drop"]
    assert evaluate(history, answer, only("drop", points=1.1)) == []


def test_drop_measured_in_the_clients_own_standard_deviations() -> None:
    history = history_of(4.0, 5.0, 4.0, 5.0)  # baseline 4.5, sd 0.577
    answer = {"honest": 4, "disagree": 4, "respected": 4, "input": 4, "pace": 3}  # mean 3.8
    # 0.7 points is under the fixed 0.75 threshold ...
    assert evaluate(history, answer, only("drop")) == []
    # ... but more than one of this client's standard deviations.
    finding = the(evaluate(history, answer, only("drop", in_sd=1.0)), "drop")
    sd = history.sd
    assert sd == pytest.approx(0.57735, abs=1e-5)
    assert finding.numbers == {
        "mean": pytest.approx(3.8),
        "baseline": pytest.approx(4.5),
        "drop": pytest.approx(0.7),
        "sd": pytest.approx(sd),
        "in_sd": 1.0,
        "threshold": pytest.approx(sd),
    }
    assert finding.items == ("pace",)


def test_drop_in_sd_can_be_stricter_than_the_points() -> None:
    history = history_of(4.0, 5.0, 4.0, 5.0)  # sd 0.577, so 2 sd = 1.155
    answer = {"honest": 4, "disagree": 4, "respected": 4, "input": 3, "pace": 3}  # drop 0.9
    assert fired(evaluate(history, answer, only("drop"))) == ["drop"]
    assert evaluate(history, answer, only("drop", in_sd=2.0)) == []


def test_drop_in_sd_falls_back_to_points_when_the_client_never_varied() -> None:
    history = history_of(4.5, 4.5, 4.5)
    assert history.sd == 0.0
    rules = only("drop", in_sd=0.5)
    # A tiny wobble is not a dip just because the spread is zero.
    assert evaluate(history, {key: 4 for key in KEYS}, rules) == []
    answer = {"honest": 3, "disagree": 3, "respected": 4, "input": 4, "pace": 4}  # drop 0.9
    finding = the(evaluate(history, answer, rules), "drop")
    assert finding.numbers["threshold"] == 0.75
    assert "sd" not in finding.numbers
    assert "in_sd" not in finding.numbers


def test_drop_off() -> None:
    rules = DipRules(drop=DropRule(enabled=False))
    history = history_of(5.0, 5.0, 5.0)
    assert "drop" not in fired(evaluate(history, {key: 4 for key in KEYS}, rules))


def answered(*answers: dict[str, int]) -> History:
    """A history grown from whole answers, so each item has its own baseline."""
    history = History()
    for scores_ in answers:
        history = history.with_answer(Answer(scores_).mean, scores_)
    return history


def test_drop_in_sd_uses_a_spread_shrunk_toward_the_typical_one() -> None:
    """Three identical answers have no spread of their own: without a prior the fixed points
    stand in; with one, the typical spread does, pooled with the client's own."""
    history = history_of(5.0, 5.0, 5.0)
    answer = scores(pace=3)  # 4.6: a fall of 0.4
    assert evaluate(history, answer, only("drop", in_sd=1.0)) == []  # 0.75 points stand in
    shrunk = only("drop", in_sd=1.0, typical_sd=0.3, prior_answers=2)
    finding = the(evaluate(history, answer, shrunk), "drop")
    # (2 own degrees of freedom x 0 + 2 x 0.3^2) / 4 -> sd 0.212
    assert finding.numbers["sd"] == pytest.approx((2 * 0.09 / 4) ** 0.5)
    assert finding.numbers["threshold"] == pytest.approx((2 * 0.09 / 4) ** 0.5)
    # As the client's own history grows, their own (zero) spread outweighs the prior.
    long = history_of(*[5.0] * 40)
    spread = the(evaluate(long, scores(pace=4), shrunk), "drop").numbers["sd"]
    assert spread == pytest.approx((2 * 0.09 / 41) ** 0.5)


# --- one item against its own baseline -----------------------------------------------------


def test_item_drop_flags_the_item_that_fell_below_its_own_baseline() -> None:
    history = answered(scores(pace=4), scores(pace=5), scores(honest=4))  # pace 4.67, honest 4.67
    findings = evaluate(history, scores(pace=3), only("item_drop"))
    assert fired(findings) == ["item_drop"]
    finding = findings[0]
    assert finding.items == ("pace",)
    assert finding.moves == (SLOW,)
    assert finding.numbers == {
        "threshold": 1.5,
        "baseline.pace": pytest.approx(14 / 3),
        "score.pace": 3,
    }


def test_item_drop_sees_a_fall_the_mean_hides() -> None:
    """A rupture is usually about one thing: a 3 on pace moves a five-item mean by 0.4 only,
    under the 0.75 baseline drop, yet it is two points under how this client rates pace."""
    history = answered(scores(), scores())
    answer = scores(pace=3)
    assert evaluate(history, answer, only("drop", min_history=1)) == []
    assert fired(evaluate(history, answer, only("item_drop"))) == ["item_drop"]


def test_item_drop_compares_each_item_with_its_own_baseline_not_the_others() -> None:
    """A client who always rates pace 3 and the rest 5 is not dipping when pace is 3 again."""
    steady = answered(scores(pace=3), scores(pace=3))
    assert evaluate(steady, scores(pace=3), only("item_drop")) == []
    assert fired(evaluate(steady, scores(honest=3, pace=3), only("item_drop"))) == ["item_drop"]


def test_item_drop_needs_the_items_own_history() -> None:
    history = answered(scores())
    assert evaluate(history, scores(pace=3), only("item_drop", min_history=2)) == []
    assert fired(evaluate(history, scores(pace=3), only("item_drop", min_history=1))) == [
        "item_drop"
    ]
    # An item the client has never answered has no baseline at all.
    new_item = {"honest": 5, "pace": 5, "input": 5, "sleep": 1}
    assert evaluate(history, new_item, only("item_drop")) == []


def test_item_drop_threshold_is_tunable_and_inclusive() -> None:
    history = answered(scores(), scores())
    assert evaluate(history, scores(pace=4), only("item_drop")) == []
    assert fired(evaluate(history, scores(pace=4), only("item_drop", points=1.0))) == ["item_drop"]
    assert fired(evaluate(history, scores(pace=3), only("item_drop", points=2.0))) == ["item_drop"]


# --- sudden drop -------------------------------------------------------------------------


def test_sudden_drop_is_off_by_default() -> None:
    assert DipRules().sudden_drop.enabled is False
    findings = evaluate(history_of(5.0), {key: 4 for key in KEYS})
    assert "sudden_drop" not in fired(findings)


def test_sudden_drop_compares_with_the_previous_answer_only() -> None:
    history = history_of(3.0, 5.0)  # baseline 4.0, previous 5.0
    answer = {key: 4 for key in KEYS}
    findings = evaluate(history, answer, only("sudden_drop"))
    assert fired(findings) == ["sudden_drop"]
    assert findings[0].numbers == {
        "mean": 4.0,
        "previous": 5.0,
        "drop": pytest.approx(1.0),
        "threshold": 1.0,
    }
    assert findings[0].items == tuple(sorted(KEYS))
    assert findings[0].moves == (ADDRESS, INVITE, SLOW)


def test_sudden_drop_ignores_the_minimum_history_of_the_drop_rule() -> None:
    rules = DipRules(sudden_drop=SuddenDropRule(enabled=True))
    findings = evaluate(history_of(5.0), scores(pace=1, input=4, disagree=4), rules)
    assert "sudden_drop" in fired(findings)
    assert "drop" not in fired(findings)


def test_sudden_drop_threshold() -> None:
    history = history_of(5.0)
    answer = scores(pace=4, input=4, disagree=4)  # drop 0.6
    assert evaluate(history, answer, only("sudden_drop")) == []
    assert fired(evaluate(history, answer, only("sudden_drop", points=0.5))) == ["sudden_drop"]


def test_a_sudden_drop_of_a_full_point_counts_despite_float_noise() -> None:
    history = history_of(4.6)
    answer = {"honest": 4, "disagree": 4, "respected": 4, "input": 4, "pace": 2}  # 3.6
    assert 4.6 - Answer(answer).mean < 1.0  # what the floats say
    finding = the(evaluate(history, answer, only("sudden_drop")), "sudden_drop")
    assert finding.numbers["drop"] == pytest.approx(1.0)


def test_sudden_drop_needs_a_previous_answer() -> None:
    answer = {key: 1 for key in KEYS}
    assert evaluate(History(), answer, only("sudden_drop", points=0.1)) == []


def test_sudden_drop_ignores_a_rise() -> None:
    assert evaluate(history_of(2.0), scores(), only("sudden_drop", points=0.1)) == []


# --- decline streak ----------------------------------------------------------------------


def test_decline_streak_fires_after_k_falls_in_a_row() -> None:
    history = history_of(5.0, 4.6)  # one fall so far
    answer = scores(respected=4, input=4, pace=3)  # 4.2, the second fall
    findings, updated = evaluate_answer(history, Answer(answer), only("decline_streak"), ITEMS)
    assert fired(findings) == ["decline_streak"]
    assert findings[0].numbers == {
        "declines": 2,
        "count": 2,
        "fall": pytest.approx(0.8),
        "min_fall": 0.8,
    }
    assert findings[0].items == ("pace",)
    assert findings[0].moves == (SLOW,)
    assert updated.decline_streak == 2


def test_one_fall_is_not_a_streak() -> None:
    assert evaluate(history_of(5.0), scores(pace=3), only("decline_streak")) == []


def test_an_equal_answer_breaks_the_streak() -> None:
    history = history_of(5.0, 4.6)
    assert evaluate(history, scores(pace=3), only("decline_streak")) == []  # 4.6 again


def test_decline_streak_count_is_tunable() -> None:
    rules = only("decline_streak", count=3, min_fall=0)
    assert evaluate(history_of(5.0, 4.8), scores(pace=2), rules) == []
    findings = evaluate(history_of(5.0, 4.8, 4.6), scores(pace=2), rules)
    assert the(findings, "decline_streak").numbers == {
        "declines": 3,
        "count": 3,
        "fall": pytest.approx(0.6),
        "min_fall": 0,
    }


def test_decline_streak_keeps_firing_while_the_fall_goes_on() -> None:
    findings = evaluate(history_of(5.0, 4.8, 4.6, 4.4), scores(pace=1), only("decline_streak"))
    assert the(findings, "decline_streak").numbers == {
        "declines": 4,
        "count": 2,
        "fall": pytest.approx(0.8),
        "min_fall": 0.8,
    }


def test_a_streak_of_tiny_falls_is_not_a_decline() -> None:
    """Two falls of 0.2 are the wobble of a client at the top of the scale: the streak needs
    its fall in all to reach min_fall (0.8 by default), counted from where it began."""
    history = history_of(5.0, 4.8)
    assert evaluate(history, scores(pace=3), only("decline_streak")) == []  # 4.6: 0.4 in all
    assert fired(evaluate(history, scores(pace=3), only("decline_streak", min_fall=0.4))) == [
        "decline_streak"
    ]
    # The fall counts from the mean before the first fall, not from the client's best.
    longer = history_of(4.0, 5.0, 4.8, 4.6)  # streak of 2 from 5.0
    assert fired(evaluate(longer, scores(pace=1), only("decline_streak"))) == ["decline_streak"]
    assert longer.streak_from == 5.0


def test_a_rise_forgets_where_the_last_streak_began() -> None:
    history = history_of(5.0, 4.4, 4.6, 4.4)  # a rise, then one fall from 4.6
    assert history.streak_from == 4.6
    assert history_of(5.0, 4.4, 4.6).streak_from is None


def test_decline_streak_off() -> None:
    rules = DipRules(decline_streak=DeclineStreakRule(enabled=False))
    assert "decline_streak" not in fired(evaluate(history_of(5.0, 4.8), scores(pace=4), rules))


# --- asked to talk -----------------------------------------------------------------------


def test_asked_to_talk_is_a_finding_of_its_own() -> None:
    findings = evaluate(History(), Answer(scores(), asked_to_talk=True))
    assert fired(findings) == ["asked"]
    finding = findings[0]
    assert finding.items == ()
    assert finding.numbers == {}
    assert finding.moves == (ADDRESS, INVITE)


def test_asked_off() -> None:
    rules = DipRules(asked=AskedRule(enabled=False))
    assert evaluate(History(), Answer(scores(), asked_to_talk=True), rules) == []


# --- silence -----------------------------------------------------------------------------


def test_silence_fires_after_k_unanswered_invitations() -> None:
    """Three in a row by default: on the simulated cohorts two in a row came about as often by
    chance (a fifth of surveys skipped) as it flagged a rupture."""
    history = History()
    for streak in (1, 2):
        findings, history = evaluate_silence(history, DipRules())
        assert findings == []
        assert history.unanswered_streak == streak
    third, history = evaluate_silence(history, DipRules())
    assert fired(third) == ["silence"]
    assert third[0].numbers == {"unanswered": 3, "count": 3}
    assert third[0].moves == (INVITE,)
    assert third[0].items == ()
    assert history.unanswered_streak == 3


def test_silence_count_is_tunable() -> None:
    findings, _ = evaluate_silence(History(), only("silence", count=1))
    assert fired(findings) == ["silence"]
    history = History().with_silence().with_silence()
    assert evaluate_silence(history, only("silence", count=4))[0] == []
    assert fired(evaluate_silence(history.with_silence(), only("silence", count=4))[0]) == [
        "silence"
    ]


def test_an_answer_resets_the_silence() -> None:
    history = History().with_silence()
    _, history = evaluate_answer(history, Answer(scores()), DipRules(), ITEMS)
    findings, history = evaluate_silence(history, DipRules())
    assert findings == []
    assert history.unanswered_streak == 1


def test_silence_leaves_the_baseline_alone() -> None:
    history = history_of(4.0, 5.0)
    _, after = evaluate_silence(history, DipRules())
    assert (after.answered, after.total, after.total_sq, after.last_mean) == (
        history.answered,
        history.total,
        history.total_sq,
        history.last_mean,
    )


def test_silence_off() -> None:
    rules = DipRules(silence=SilenceRule(enabled=False))
    history = History().with_silence().with_silence().with_silence()
    findings, updated = evaluate_silence(history, rules)
    assert findings == []
    assert updated.unanswered_streak == 4


# --- several rules at once, evidence, moves ----------------------------------------------


def test_one_bad_answer_can_trip_several_rules_in_a_fixed_order() -> None:
    history = history_of(5.0, 4.8, 4.6)  # baseline 4.8, falling twice already
    answer = Answer({"honest": 2, "disagree": 4, "respected": 4, "input": 4, "pace": 3})  # 3.4
    findings = evaluate(history, answer)
    assert fired(findings) == ["floor", "low_overall", "drop", "decline_streak"]
    assert moves_of(findings) == (ADDRESS,)
    with_sudden = evaluate(history, answer, DipRules(sudden_drop=SuddenDropRule(enabled=True)))
    assert fired(with_sudden) == ["floor", "low_overall", "drop", "sudden_drop", "decline_streak"]
    asked = evaluate(history, Answer(answer.scores, asked_to_talk=True))
    assert fired(asked)[-1] == "asked"
    assert moves_of(asked) == (ADDRESS, INVITE)


def test_evidence_is_rounded_and_plain() -> None:
    answer = {"honest": 4, "disagree": 4, "pace": 3}  # mean 11/3
    finding = the(evaluate(History(), answer, only("low_overall")), "low_overall")
    evidence = finding.as_evidence()
    assert evidence == {
        "rule": "low_overall",
        "items": ["pace"],
        "numbers": {"mean": 3.667, "floor": 4.0},
        "moves": ["slow_pace"],
    }
    assert json.loads(json.dumps(evidence)) == evidence


def test_floor_evidence_lists_each_low_score() -> None:
    finding = the(evaluate(History(), scores(input=1, pace=2), only("floor")), "floor")
    assert finding.as_evidence() == {
        "rule": "floor",
        "items": ["input", "pace"],
        "numbers": {"floor": 2, "score.input": 1, "score.pace": 2},
        "moves": ["invite_feedback", "slow_pace"],
    }


def test_drop_evidence_in_sd_mode() -> None:
    history = history_of(4.0, 5.0, 4.0, 5.0)
    answer = {"honest": 4, "disagree": 4, "respected": 4, "input": 4, "pace": 3}
    evidence = the(evaluate(history, answer, only("drop", in_sd=1.0)), "drop").as_evidence()
    assert evidence["numbers"] == {
        "mean": 3.8,
        "baseline": 4.5,
        "drop": 0.7,
        "sd": 0.577,
        "in_sd": 1.0,
        "threshold": 0.577,
    }


def test_moves_of_merges_findings_each_move_once_relational_first() -> None:
    findings = [
        Finding(rule="floor", moves=(SLOW,)),
        Finding(rule="silence", moves=(INVITE,)),
        Finding(rule="asked", moves=(ADDRESS, INVITE)),
        Finding(rule="drop", moves=(SLOW, INVITE)),
    ]
    assert moves_of(findings) == (ADDRESS, INVITE, SLOW)
    assert moves_of([Finding(rule="floor", moves=(SLOW,))]) == (SLOW,)
    assert moves_of([]) == ()
    assert moves_of(iter(findings)) == (ADDRESS, INVITE, SLOW)


def test_evaluation_does_not_depend_on_the_order_of_the_items_list() -> None:
    history = history_of(5.0, 4.8, 4.6)
    answer = Answer(scores(honest=1, pace=1))
    forward = evaluate(history, answer, DipRules(), ITEMS)
    backward = evaluate(history, answer, DipRules(), list(reversed(ITEMS)))
    assert forward == backward


# --- properties --------------------------------------------------------------------------

item_means = st.builds(
    lambda total, count: total / count,
    st.integers(min_value=3, max_value=25),
    st.sampled_from([3, 4, 5]),
).filter(lambda value: SCALE_MIN <= value <= SCALE_MAX)


@st.composite
def score_maps(draw: st.DrawFn, low: int = SCALE_MIN, high: int = SCALE_MAX) -> dict[str, int]:
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=3, max_size=5, unique=True))
    return {key: draw(st.integers(min_value=low, max_value=high)) for key in keys}


@st.composite
def answers(draw: st.DrawFn) -> Answer:
    return Answer(draw(score_maps()), asked_to_talk=draw(st.booleans()))


@st.composite
def histories(draw: st.DrawFn) -> History:
    """A history grown from real answers (a mean) and expired invitations (None)."""
    # One set of items for the whole history, as a practice's survey has, keeps each draw small.
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=3, max_size=5, unique=True))
    item_scores = st.lists(
        st.integers(min_value=SCALE_MIN, max_value=SCALE_MAX),
        min_size=len(keys),
        max_size=len(keys),
    )
    events = draw(st.lists(st.one_of(item_scores, st.none()), max_size=15))
    history = History()
    for event in events:
        if event is None:
            history = history.with_silence()
        else:
            answer = dict(zip(keys, event, strict=True))
            history = history.with_answer(Answer(answer).mean, answer)
    return history


points = st.floats(min_value=0.05, max_value=float(SCALE_MAX - SCALE_MIN))


@st.composite
def dip_rules(draw: st.DrawFn, max_floor: int = SCALE_MAX - 1) -> DipRules:
    return DipRules(
        floor=FloorRule(
            enabled=draw(st.booleans()),
            floor=draw(st.integers(min_value=SCALE_MIN, max_value=max_floor)),
        ),
        low_overall=LowOverallRule(
            enabled=draw(st.booleans()),
            floor=draw(st.floats(min_value=SCALE_MIN, max_value=SCALE_MAX)),
        ),
        drop=DropRule(
            enabled=draw(st.booleans()),
            points=draw(points),
            min_history=draw(st.integers(min_value=1, max_value=10)),
            in_sd=draw(st.one_of(st.none(), st.floats(min_value=0.1, max_value=5.0))),
            typical_sd=draw(st.floats(min_value=0.05, max_value=2.0)),
            prior_answers=draw(st.integers(min_value=0, max_value=5)),
        ),
        item_drop=ItemDropRule(
            enabled=draw(st.booleans()),
            points=draw(points),
            min_history=draw(st.integers(min_value=1, max_value=5)),
        ),
        sudden_drop=SuddenDropRule(enabled=draw(st.booleans()), points=draw(points)),
        decline_streak=DeclineStreakRule(
            enabled=draw(st.booleans()),
            count=draw(st.integers(min_value=1, max_value=5)),
            min_fall=draw(st.floats(min_value=0, max_value=2.0)),
        ),
        silence=SilenceRule(
            enabled=draw(st.booleans()), count=draw(st.integers(min_value=1, max_value=5))
        ),
        asked=AskedRule(enabled=draw(st.booleans())),
    )


item_lists = st.lists(st.sampled_from(ITEMS), max_size=5, unique_by=lambda item: item.key)


@SHARED_MACHINE
@given(
    history=histories(),
    keys=st.lists(st.sampled_from(KEYS), min_size=3, max_size=5, unique=True),
    rules=st.one_of(st.just(DipRules()), dip_rules()),
    items=item_lists,
)
def test_answers_at_the_top_of_the_scale_never_produce_findings(
    history: History, keys: list[str], rules: DipRules, items: list[SurveyItem]
) -> None:
    answer = Answer({key: SCALE_MAX for key in keys}, asked_to_talk=False)
    findings, updated = evaluate_answer(history, answer, rules, items)
    assert findings == []
    assert updated.decline_streak == 0


@SHARED_MACHINE
@given(
    history=histories(),
    answer=answers(),
    rules=dip_rules(),
    floors=st.lists(
        st.integers(min_value=SCALE_MIN, max_value=SCALE_MAX - 1), min_size=2, max_size=2
    ),
)
def test_raising_the_item_floor_never_removes_a_floor_finding(
    history: History, answer: Answer, rules: DipRules, floors: list[int]
) -> None:
    lower, higher = sorted(floors)
    low = rules.model_copy(update={"floor": FloorRule(floor=lower)})
    high = rules.model_copy(update={"floor": FloorRule(floor=higher)})
    low_findings = [f for f in evaluate(history, answer, low) if f.rule == "floor"]
    high_findings = [f for f in evaluate(history, answer, high) if f.rule == "floor"]
    if low_findings:
        assert len(high_findings) == 1
        assert set(low_findings[0].items) <= set(high_findings[0].items)
    # And the finding flags exactly the items at or below the floor.
    for finding, floor in ((low_findings, lower), (high_findings, higher)):
        expected = sorted(key for key, score in answer.scores.items() if score <= floor)
        assert [list(f.items) for f in finding] == ([expected] if expected else [])


@SHARED_MACHINE
@given(
    history=histories(),
    answer=answers(),
    rules=dip_rules(),
    floors=st.lists(st.floats(min_value=SCALE_MIN, max_value=SCALE_MAX), min_size=2, max_size=2),
)
def test_raising_the_overall_floor_never_removes_a_low_overall_finding(
    history: History, answer: Answer, rules: DipRules, floors: list[float]
) -> None:
    lower, higher = sorted(floors)
    low = rules.model_copy(update={"low_overall": LowOverallRule(floor=lower)})
    high = rules.model_copy(update={"low_overall": LowOverallRule(floor=higher)})
    low_fired = "low_overall" in fired(evaluate(history, answer, low))
    high_fired = "low_overall" in fired(evaluate(history, answer, high))
    assert not low_fired or high_fired
    assert high_fired == (answer.mean < higher)


@SHARED_MACHINE
@given(
    prior=st.lists(score_maps(), min_size=2, max_size=15),
    random=st.randoms(use_true_random=False),
    rules=dip_rules(),
    answer=answers(),
)
def test_the_order_in_which_the_history_was_stored_does_not_matter(
    prior: list[dict[str, int]], random: Random, rules: DipRules, answer: Answer
) -> None:
    """The same past answers, stored in any order, give the very same baseline and spread, and
    so exactly the same findings (numbers included) from every rule that looks at the history
    as a whole. The sudden-drop and decline-streak rules compare with the previous answer by
    definition, so they are left out of the comparison, not of the summary."""
    shuffled = list(prior)
    random.shuffle(shuffled)

    def build(answers_in_order: list[dict[str, int]]) -> History:
        history = History()
        for scores_ in answers_in_order:
            _, history = evaluate_answer(history, Answer(scores_), rules, ITEMS)
        return history

    one, other = build(prior), build(shuffled)
    assert one.answered == other.answered == len(prior)
    assert (one.mean, one.sd) == (other.mean, other.sd)  # exactly, not approximately
    assert one.items == other.items  # each item's sums too
    whole_history = rules.model_copy(
        update={
            "sudden_drop": SuddenDropRule(enabled=False),
            "decline_streak": DeclineStreakRule(enabled=False),
        }
    )
    assert evaluate(one, answer, whole_history) == evaluate(other, answer, whole_history)


@SHARED_MACHINE
@given(
    history=histories(),
    answer=answers(),
    rules=dip_rules(),
    raise_item_floor=st.integers(min_value=0, max_value=SCALE_MAX - SCALE_MIN),
    raise_overall_floor=st.floats(min_value=0, max_value=SCALE_MAX - SCALE_MIN),
)
def test_raising_a_floor_never_removes_an_alert(
    history: History,
    answer: Answer,
    rules: DipRules,
    raise_item_floor: int,
    raise_overall_floor: float,
) -> None:
    """An answer that raised an alert still raises one when either floor is set higher, and
    no rule that fired stops firing."""
    higher = rules.model_copy(
        update={
            "floor": rules.floor.model_copy(
                update={"floor": min(SCALE_MAX - 1, rules.floor.floor + raise_item_floor)}
            ),
            "low_overall": rules.low_overall.model_copy(
                update={"floor": min(SCALE_MAX, rules.low_overall.floor + raise_overall_floor)}
            ),
        }
    )
    before = fired(evaluate(history, answer, rules))
    after = fired(evaluate(history, answer, higher))
    assert set(before) <= set(after)
    assert not before or after


@SHARED_MACHINE
@given(history=histories(), answer=answers(), rules=dip_rules(), items=item_lists)
def test_every_finding_names_a_rule_and_at_least_one_move(
    history: History, answer: Answer, rules: DipRules, items: list[SurveyItem]
) -> None:
    findings, _ = evaluate_answer(history, answer, rules, items)
    silence, _ = evaluate_silence(history, rules)
    assert fired(findings) == [rule for rule in ANSWER_RULES if rule in fired(findings)]
    assert len(set(fired(findings))) == len(findings)
    for finding in [*findings, *silence]:
        assert finding.rule in RULE_NAMES
        assert getattr(rules, finding.rule).enabled
        assert len(finding.moves) >= 1
        assert all(isinstance(move, Move) for move in finding.moves)
        assert ordered_moves(finding.moves)
        assert set(finding.items) <= set(answer.scores)
        evidence = finding.as_evidence()
        assert evidence["rule"] == finding.rule
        assert evidence["moves"]
        json.dumps(evidence)
    if findings or silence:
        assert moves_of([*findings, *silence])


@SHARED_MACHINE
@given(history=histories(), answer=answers(), rules=dip_rules())
def test_asked_fires_exactly_when_enabled_and_ticked(
    history: History, answer: Answer, rules: DipRules
) -> None:
    assert ("asked" in fired(evaluate(history, answer, rules))) == (
        rules.asked.enabled and answer.asked_to_talk
    )


def exact_mean(scores_: dict[str, int]) -> Fraction:
    return Fraction(sum(scores_.values()), len(scores_))


@SHARED_MACHINE
@given(
    prior=st.lists(score_maps(), min_size=1, max_size=15),
    answer=score_maps(),
    twentieths=st.integers(min_value=1, max_value=80),
)
def test_drop_fires_exactly_when_the_true_drop_reaches_the_points(
    prior: list[dict[str, int]], answer: dict[str, int], twentieths: int
) -> None:
    """Compared with exact fractions: float noise in the baseline never decides a dip."""
    history = history_of(*(Answer(scores_).mean for scores_ in prior))
    rules = only("drop", points=twentieths / 20, min_history=1)
    baseline = sum((exact_mean(scores_) for scores_ in prior), Fraction(0)) / len(prior)
    true_drop = baseline - exact_mean(answer)
    expected = true_drop > 0 and true_drop >= Fraction(twentieths, 20)
    assert ("drop" in fired(evaluate(history, answer, rules))) == expected


@SHARED_MACHINE
@given(
    previous=score_maps(),
    answer=score_maps(),
    twentieths=st.integers(min_value=1, max_value=80),
)
def test_sudden_drop_fires_exactly_when_the_true_fall_reaches_the_points(
    previous: dict[str, int], answer: dict[str, int], twentieths: int
) -> None:
    history = history_of(Answer(previous).mean)
    rules = only("sudden_drop", points=twentieths / 20)
    true_drop = exact_mean(previous) - exact_mean(answer)
    expected = true_drop > 0 and true_drop >= Fraction(twentieths, 20)
    assert ("sudden_drop" in fired(evaluate(history, answer, rules))) == expected
