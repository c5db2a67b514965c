"""Whatever order a client's answers are evaluated in (messages late, lost and swept), the
findings and the stored history are those of evaluating them in the order they were given."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from shared.detection import Answer, Finding, History, evaluate_answer, evaluate_silence
from shared.detection.order import Place, evaluate_first, silence_place
from shared.practice.settings import DipRules
from shared.survey.items import BUILT_IN_ITEMS, SCALE_MAX, SCALE_MIN

ITEMS = list(BUILT_IN_ITEMS.values())
# Every rule on, with short histories, so order-dependent rules (drop, sudden drop, decline,
# silence) have something to find in a handful of answers.
RULES = DipRules.model_validate(
    {
        "drop": {"min_history": 1},
        "sudden_drop": {"enabled": True},
        "decline_streak": {"count": 2, "min_fall": 0.2},
        "silence": {"count": 2},
    }
)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)

answers = st.builds(
    Answer,
    scores=st.fixed_dictionaries(
        {key: st.integers(min_value=SCALE_MIN, max_value=SCALE_MAX) for key in BUILT_IN_ITEMS}
    ),
    asked_to_talk=st.booleans(),
)


@dataclass(frozen=True)
class Event:
    place: Place
    answer: Answer | None  # None: an invitation that expired unanswered


def events_in_order(given: list[Answer | None]) -> list[Event]:
    """The client's answers and silences, an hour apart; a silence stands after every answer
    given by its moment, as record_silence places it."""
    events = []
    for n, answer in enumerate(given):
        at = START + timedelta(hours=n)
        place = Place(at, UUID(int=n)) if answer is not None else silence_place(at)
        events.append(Event(place, answer))
    return events


class Client:
    """What evaluate_response and record_silence do to one client's rows, without a database:
    a claim per answer, and the earlier unevaluated answers evaluated first."""

    def __init__(self, events: list[Event]) -> None:
        self.answers = {event.place: event.answer for event in events if event.answer}
        self.evaluated: set[Place] = set()
        self.history = History()
        self.findings: dict[Place, list[Finding]] = {}

    def _apply(self, place: Place) -> None:
        if place in self.evaluated:
            return  # the claim on evaluated_at: once
        self.evaluated.add(place)
        found, self.history = evaluate_answer(self.history, self.answers[place], RULES, ITEMS)
        self.findings[place] = found

    def _earlier(self, place: Place) -> None:
        unevaluated = [known for known in self.answers if known not in self.evaluated]
        for earlier in evaluate_first(unevaluated, place):
            self._apply(earlier)

    def evaluate(self, place: Place) -> None:
        if place in self.evaluated:
            return
        self._earlier(place)
        self._apply(place)

    def silence(self, place: Place) -> None:
        self._earlier(place)
        self.findings[place], self.history = evaluate_silence(self.history, RULES)


def in_order(events: list[Event]) -> tuple[dict[Place, list[Finding]], History]:
    history = History()
    findings: dict[Place, list[Finding]] = {}
    for event in events:
        if event.answer is None:
            findings[event.place], history = evaluate_silence(history, RULES)
        else:
            findings[event.place], history = evaluate_answer(history, event.answer, RULES, ITEMS)
    return findings, history


@given(st.lists(answers, min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_any_evaluation_order_gives_the_submission_order_result(
    given_answers: list[Answer], random: object
) -> None:
    events = events_in_order(list(given_answers))
    order = [event.place for event in events]
    random.shuffle(order)  # type: ignore[attr-defined]
    client = Client(events)
    for place in order:
        client.evaluate(place)
    assert (client.findings, client.history) == in_order(events)


@given(
    st.lists(st.one_of(answers, st.none()), min_size=1, max_size=10),
    st.data(),
)
def test_late_answers_between_silences_are_applied_where_they_were_given(
    given_events: list[Answer | None], data: st.DataObject
) -> None:
    """Silences are counted as they fall due; each answer's message may come at once, late
    (after later events) or never (the sweep at the end)."""
    events = events_in_order(given_events)
    never = len(events) + 1
    schedule = []
    for position, event in enumerate(events):
        lateness = 0 if event.answer is None else data.draw(st.integers(0, never), "lateness")
        schedule.append((position + lateness, data.draw(st.integers(0, 3), "tie"), position))
    client = Client(events)
    for _, _, position in sorted(schedule):
        event = events[position]
        if event.answer is None:
            client.silence(event.place)
        else:
            client.evaluate(event.place)
    for event in events:  # the sweep: whatever is left
        if event.answer is not None:
            client.evaluate(event.place)
    assert (client.findings, client.history) == in_order(events)


def test_an_earlier_answer_comes_first_only_while_unevaluated() -> None:
    first, second, third = (Place(START + timedelta(minutes=n), UUID(int=n)) for n in range(3))
    assert evaluate_first([third, first, second], third) == [first, second]
    assert evaluate_first([second, third], first) == []
    # Two answers in the same instant: the id decides, the same way every time.
    tied = Place(first.submitted_at, UUID(int=9))
    assert evaluate_first([tied], first) == []
    assert evaluate_first([first], tied) == [first]
    assert evaluate_first([first, second], silence_place(second.submitted_at)) == [first, second]
