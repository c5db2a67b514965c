"""Replaying past answers for a settings preview, and judging repair: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from shared.detection import Answer, History, evaluate_answer, is_repaired, repair_target
from shared.detection.replay import PastEvent, replay
from shared.practice.settings import DipRules, FloorRule, PracticeSettings, SilenceRule
from shared.survey.items import BUILT_IN_ITEMS

DAY0 = datetime(2026, 1, 1, 9, tzinfo=UTC)
ITEMS = list(BUILT_IN_ITEMS.values())
FIVE = dict.fromkeys(BUILT_IN_ITEMS, 5)
CASEY, DREW = uuid4(), uuid4()


def answer(client: UUID, day: int, clinician: UUID = CASEY, **scores: int) -> PastEvent:
    return PastEvent(client, clinician, DAY0 + timedelta(days=day), Answer(FIVE | scores))


def silence(client: UUID, day: int, clinician: UUID = CASEY) -> PastEvent:
    return PastEvent(client, clinician, DAY0 + timedelta(days=day))


def test_replay_counts_alerts_per_rule_and_clinician_inside_the_window() -> None:
    robin, sam = uuid4(), uuid4()
    events = [
        answer(robin, 0),
        answer(robin, 7),
        answer(robin, 14),
        answer(robin, 21, honest=4, respected=4, pace=3),  # drop of 0.8; pace 2 below its 5
        answer(sam, 3, honest=1),  # floor + low overall, but before the window
        silence(sam, 17, DREW),
        silence(sam, 24, DREW),
        silence(sam, 30, DREW),  # third silence in a row
    ]
    counts = replay(events, DipRules(), ITEMS, counted_from=DAY0 + timedelta(days=10))
    assert counts.alerts == 2
    assert dict(counts.by_rule) == {"drop": 1, "item_drop": 1, "silence": 1}
    assert dict(counts.by_clinician) == {CASEY: 1, DREW: 1}


def test_events_before_the_window_still_build_the_baseline() -> None:
    robin = uuid4()
    events = [answer(robin, d) for d in (0, 7, 14)] + [answer(robin, 21, pace=2, input=4)]
    rules = DipRules.model_validate(
        {name: {"enabled": name == "drop"} for name in DipRules.model_fields}
    )
    assert replay(events, rules, ITEMS, counted_from=DAY0 + timedelta(days=20)).alerts == 1
    # Without the earlier answers there is no baseline yet, so no drop.
    assert replay(events[-1:], rules, ITEMS, counted_from=DAY0).alerts == 0


def test_replay_orders_events_by_time_whatever_order_they_come_in() -> None:
    robin = uuid4()
    events = [answer(robin, d) for d in (0, 7, 14)] + [answer(robin, 21, honest=1)]
    counted_from = DAY0
    forward = replay(events, DipRules(), ITEMS, counted_from=counted_from)
    backward = replay(list(reversed(events)), DipRules(), ITEMS, counted_from=counted_from)
    assert forward == backward
    assert forward.alerts == 1


@given(
    means=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=12),
    floor=st.integers(min_value=1, max_value=4),
)
def test_replay_agrees_with_evaluating_answers_one_by_one(means: list[int], floor: int) -> None:
    """The preview's count is exactly what the rules raise answer by answer."""
    robin = uuid4()
    rules = DipRules(floor=FloorRule(floor=floor), silence=SilenceRule(count=1))
    events = [answer(robin, day, pace=5 - drop) for day, drop in enumerate(means)]
    history, expected = History(), 0
    for event in events:
        assert event.answer is not None
        findings, history = evaluate_answer(history, event.answer, rules, ITEMS)
        expected += bool(findings)
    assert replay(events, rules, ITEMS, counted_from=DAY0).alerts == expected


def test_repair_target_is_the_baseline_before_the_dip() -> None:
    before = History().with_answer(5.0).with_answer(4.6)
    assert repair_target(before, DipRules()) == 4.8
    assert is_repaired(4.8, 4.8)
    assert is_repaired(5.0, 4.8)
    assert not is_repaired(4.6, 4.8)


def test_with_no_answers_yet_repair_means_no_longer_low() -> None:
    rules = PracticeSettings.model_validate({"rules": {"low_overall": {"floor": 3.5}}}).rules
    assert repair_target(History(), rules) == 3.5
    assert repair_target(History().with_silence(), rules) == 3.5


def test_a_repair_exactly_back_at_the_baseline_counts_despite_float_noise() -> None:
    before = History().with_answer(4.6).with_answer(4.8).with_answer(5.0)  # 4.8
    assert is_repaired(Answer({"a": 5, "b": 5, "c": 5, "d": 4, "e": 5}).mean - 1e-12, before.mean)
