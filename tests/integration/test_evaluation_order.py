"""An answer evaluated late (its message lost, the sweep minutes on) is applied to the client's
history where it was given: the same alerts and the same stored history as evaluating the
client's answers in the order they were submitted, and each answer still evaluated once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlmodel import col, select

from services.bootstrap import Stack
from shared.alerts import service as alerts
from shared.alerts.service import EVALUATION_SWEEP_AFTER
from shared.models import Alert, ClientHistory, Response
from tests.conftest import START
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.practice import add_clinician_with_client, create_practice

# 4.6 then 3.8 after a steady 5: only in this order do both fall, a decline of 1.2 in all.
EARLIER = FIVE | {"pace": 4, "honest": 4}
LATER = FIVE | {"pace": 3, "honest": 3, "input": 3}


def _two_clients(http: httpx.Client) -> tuple[UUID, list[tuple[UUID, UUID]]]:
    practice = create_practice(http)
    drew, sam = add_clinician_with_client(practice)
    pid = UUID(practice.practice_id)
    return pid, [
        (UUID(practice.client["id"]), UUID(practice.clinician["id"])),
        (UUID(sam), UUID(drew)),
    ]


def _evaluate(stack: Stack, pid: UUID, response_id: UUID, at: datetime) -> bool:
    with stack.db.transaction(pid) as session:
        return alerts.evaluate_response(session, response_id, now=at)


def _outcome(stack: Stack, pid: UUID, client_id: UUID, answers: list[UUID]) -> dict[str, Any]:
    """What evaluation left for one client, with answers named by their place in the list."""
    with stack.db.transaction(pid) as session:
        history = session.get(ClientHistory, client_id)
        assert history is not None
        raised = session.exec(select(Alert).where(Alert.client_id == client_id)).all()
        unevaluated = session.exec(
            select(Response.id)
            .where(Response.client_id == client_id)
            .where(col(Response.evaluated_at).is_(None))
        ).all()
        return {
            "history": history.model_dump(exclude={"client_id", "practice_id"}),
            "alerts": sorted(
                (answers.index(alert.response_id), alert.evidence)
                for alert in raised
                if alert.response_id is not None
            ),
            "silence_alerts": sum(1 for alert in raised if alert.response_id is None),
            "unevaluated": len(unevaluated),
        }


def test_a_later_answer_evaluated_first_leaves_what_submission_order_leaves(
    stack: Stack, http: httpx.Client
) -> None:
    pid, [(in_order, drew), (out_of_order, olive)] = _two_clients(http)
    given: dict[UUID, list[UUID]] = {}
    for client, clinician in ((in_order, drew), (out_of_order, olive)):
        for week in range(3, 0, -1):
            answered_session(stack.db, pid, client, clinician, at=START - timedelta(weeks=week))
        given[client] = [
            answered_session(
                stack.db, pid, client, clinician, at=START + minutes, scores=scores, evaluate=False
            )
            for minutes, scores in ((timedelta(0), EARLIER), (timedelta(minutes=1), LATER))
        ]

    earlier, later = given[in_order]
    _evaluate(stack, pid, earlier, START + timedelta(seconds=1))
    _evaluate(stack, pid, later, START + timedelta(minutes=1, seconds=1))

    # The earlier answer's message is lost; the later one's runs at once.
    earlier, later = given[out_of_order]
    assert _evaluate(stack, pid, later, START + timedelta(minutes=1, seconds=1))
    # The sweep, three minutes on, finds nothing left: the earlier answer was evaluated first,
    # under its own claim, and a late redelivery of its message changes nothing.
    swept_at = START + EVALUATION_SWEEP_AFTER + timedelta(minutes=1)
    with stack.db.across_practices() as session:
        assert alerts.unevaluated_responses(session, now=swept_at, limit=10) == []
    with stack.db.transaction(pid) as session:
        assert not alerts.evaluate_late_response(session, earlier, now=swept_at)
    assert not _evaluate(stack, pid, earlier, swept_at)

    expected = _outcome(stack, pid, in_order, given[in_order])
    assert expected["history"]["decline_streak"] == 2
    assert {finding["rule"] for _, evidence in expected["alerts"] for finding in evidence} >= {
        "decline_streak"
    }
    assert _outcome(stack, pid, out_of_order, given[out_of_order]) == expected


def test_an_answer_given_before_a_silence_is_applied_before_it(
    stack: Stack, http: httpx.Client
) -> None:
    pid, [(in_order, drew), (out_of_order, olive)] = _two_clients(http)
    given: dict[UUID, list[UUID]] = {}
    for client, clinician in ((in_order, drew), (out_of_order, olive)):
        answer = answered_session(stack.db, pid, client, clinician, at=START, evaluate=False)
        given[client] = [answer]
        if client == in_order:
            _evaluate(stack, pid, answer, START + timedelta(seconds=1))
        # The next survey expires unanswered an hour on; for the other client the answer's
        # message has not run by then.
        unanswered_session(stack.db, pid, client, clinician, at=START + timedelta(hours=1))

    [answer] = given[out_of_order]
    assert not _evaluate(stack, pid, answer, START + timedelta(hours=1, minutes=5))
    expected = _outcome(stack, pid, in_order, given[in_order])
    assert expected["history"]["unanswered_streak"] == 1
    assert _outcome(stack, pid, out_of_order, given[out_of_order]) == expected


@pytest.mark.postgres
def test_an_answer_and_its_later_sibling_evaluated_at_once_are_each_evaluated_once(
    stack: Stack, http: httpx.Client
) -> None:
    """Two workers take a client's two answers at the same moment, many times over: whichever
    gets the client's history first evaluates both in order; the other finds its answer taken.
    No deadlock (every evaluation locks the history before claiming an answer), no answer
    evaluated twice, and the outcome of submission order every time."""
    pid, [(client, clinician), (reference, its_clinician)] = _two_clients(http)
    pairs = []
    for n in range(12):
        at = START + timedelta(days=n)
        pairs.append(
            [
                answered_session(
                    stack.db, pid, c, who, at=at + minutes, scores=scores, evaluate=False
                )
                for c, who in ((client, clinician), (reference, its_clinician))
                for minutes, scores in ((timedelta(0), EARLIER), (timedelta(minutes=1), LATER))
            ]
        )

    def evaluate(response_id: UUID, gate: threading.Barrier) -> bool:
        gate.wait()
        return _evaluate(stack, pid, response_id, START)

    for earlier, later, reference_earlier, reference_later in pairs:
        _evaluate(stack, pid, reference_earlier, START)
        _evaluate(stack, pid, reference_later, START)
        gate = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            both = [pool.submit(evaluate, answer, gate) for answer in (later, earlier)]
            for taken in both:
                taken.result(timeout=30)
    mine = [answer for earlier, later, _, _ in pairs for answer in (earlier, later)]
    theirs = [answer for _, _, earlier, later in pairs for answer in (earlier, later)]
    assert _outcome(stack, pid, client, mine) == _outcome(stack, pid, reference, theirs)
    with stack.db.transaction(pid) as session:
        raised = session.exec(select(Alert.source_key).where(Alert.client_id == client)).all()
    assert len(raised) == len(set(raised))
