"""An alert's evidence in plain words, straight from what detection stored: the same findings
the rules produce, run through the one wording function the pages and the API use."""

from __future__ import annotations

from shared.alerts.what_helped import helped_first
from shared.alerts.wording import evidence_lines, item_name, outcome_line, tenths
from shared.detection import Answer, History, evaluate_answer
from shared.models import RepairOutcome
from shared.practice.settings import PracticeSettings
from shared.survey.items import BUILT_IN_ITEMS, SurveyItem
from shared.survey.moves import Move

ITEMS = dict(BUILT_IN_ITEMS)


def _rules(**changes: object) -> PracticeSettings:
    body = PracticeSettings().model_dump(mode="json")
    for path, value in changes.items():
        rule, field = path.split("__")
        body["rules"][rule][field] = value
    return PracticeSettings.model_validate(body)


def _history(*means: float) -> History:
    history = History()
    for mean in means:
        history = history.with_answer(mean)
    return history


def _words(history: History, scores: dict[str, int], settings: PracticeSettings) -> list[str]:
    findings, _ = evaluate_answer(
        history, Answer(scores=scores), settings.rules, settings.known_items
    )
    return evidence_lines([f.as_evidence() for f in findings], ITEMS)


def test_an_item_below_the_floor_reads_as_its_score_out_of_five_against_the_floor() -> None:
    settings = _rules(floor__floor=3, low_overall__enabled=False, drop__enabled=False)
    scores = {"honest": 5, "disagree": 5, "respected": 5, "input": 5, "pace": 2}
    assert _words(History(), scores, settings) == ["Pace: 2 of 5, below your practice's floor of 3"]


def test_an_item_at_the_floor_says_at_not_below() -> None:
    settings = _rules(floor__floor=2, low_overall__enabled=False)
    scores = {"honest": 2, "disagree": 5, "respected": 5, "input": 5, "pace": 5}
    assert _words(History(), scores, settings) == ["Honesty: 2 of 5, at your practice's floor of 2"]


def test_a_drop_reads_as_the_overall_against_their_usual() -> None:
    settings = _rules(
        floor__enabled=False, low_overall__enabled=False, decline_streak__enabled=False
    )
    # Usual 4.1 over three answers (4.0, 4.2, 4.1); today 3.2 (16 / 5).
    scores = {"honest": 3, "disagree": 3, "respected": 4, "input": 3, "pace": 3}
    lines = _words(_history(4.0, 4.2, 4.1), scores, settings)
    assert lines == ["Overall 3.2, down 0.9 from their usual 4.1"]


def test_the_drop_in_words_is_the_difference_of_the_numbers_shown() -> None:
    """4.15 and 3.25 would print 4.2 and 3.3 (halves up): the drop shown is 0.9, not 0.9x."""
    lines = evidence_lines(
        [
            {
                "rule": "drop",
                "items": [],
                "numbers": {"mean": 3.25, "baseline": 4.15, "drop": 0.9},
                "moves": ["invite_feedback"],
            }
        ],
        ITEMS,
    )
    assert lines == ["Overall 3.3, down 0.9 from their usual 4.2"]


def test_a_low_overall_a_sudden_drop_a_streak_a_request_and_silence_each_have_words() -> None:
    evidence = [
        {"rule": "low_overall", "numbers": {"mean": 3.4, "floor": 4.0}, "moves": []},
        {
            "rule": "sudden_drop",
            "numbers": {"mean": 3.4, "previous": 4.6, "drop": 1.2, "threshold": 1.0},
            "moves": [],
        },
        {"rule": "decline_streak", "numbers": {"declines": 3, "count": 2}, "moves": []},
        {"rule": "asked", "numbers": {}, "moves": []},
        {"rule": "silence", "numbers": {"unanswered": 2, "count": 2}, "moves": []},
    ]
    assert evidence_lines(evidence, ITEMS) == [
        "Overall 3.4, below your practice's line of 4",
        "Overall 3.4, down 1.2 from 4.6 the session before",
        "Overall lower than the session before, 3 times in a row",
        "They said they would like to talk about how therapy is going",
        "The last 2 surveys went unanswered",
    ]


def test_a_drop_measured_in_their_own_spread_says_so() -> None:
    evidence = [
        {
            "rule": "drop",
            "numbers": {
                "mean": 3.0,
                "baseline": 4.2,
                "drop": 1.2,
                "sd": 0.4,
                "in_sd": 1.5,
                "threshold": 0.6,
            },
            "moves": [],
        }
    ]
    assert evidence_lines(evidence, ITEMS) == [
        "Overall 3.0, down 1.2 from their usual 4.2 (3.0 times their usual ups and downs; "
        "your practice looks at 1.5)"
    ]


def test_a_practices_own_item_is_named_by_its_topic() -> None:
    own = SurveyItem(
        key="goals",
        prompt="We worked on what I wanted.",
        move=Move.INVITE_FEEDBACK,
        topic="Working on their goals",
    )
    items = ITEMS | {"goals": own}
    assert item_name("goals", items) == "Working on their goals"
    assert item_name("pace", items) == "Pace"
    assert item_name("gone_item", items) == "Gone item"


def test_means_round_halves_up_as_people_do() -> None:
    assert str(tenths(3.25)) == "3.3"
    assert str(tenths(4.05)) == "4.1"
    assert str(tenths(4.0)) == "4.0"


def test_the_outcome_says_whether_they_recovered() -> None:
    assert outcome_line(None, None, 4.1).startswith("Waiting for their first answer")
    assert outcome_line(RepairOutcome.REPAIRED, 4.2, 4.0) == (
        "Recovered: overall 4.2 next time, back to 4.0 or above."
    )
    assert outcome_line(RepairOutcome.NOT_REPAIRED, 3.6, 4.1) == (
        "Not recovered yet: overall 3.6 next time, below the 4.1 that counts as back."
    )


def test_moves_that_helped_before_come_first() -> None:
    suggested = [Move.ADDRESS_RELATIONSHIP, Move.INVITE_FEEDBACK, Move.SLOW_PACE]
    assert helped_first(suggested, [Move.SLOW_PACE]) == [
        Move.SLOW_PACE,
        Move.ADDRESS_RELATIONSHIP,
        Move.INVITE_FEEDBACK,
    ]
    # A move that helped but is not suggested this time is not added.
    assert helped_first([Move.INVITE_FEEDBACK], [Move.SLOW_PACE]) == [Move.INVITE_FEEDBACK]
    assert helped_first(suggested, []) == suggested
