"""Evaluating an answer reads a fixed amount, however long the client's history.

Counted in SQL statements (not time): the same work for a client with 3 prior answers as for
one with 40, and the client's past answers are never read back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import event

from services.bootstrap import Stack
from shared.alerts import service as alerts
from tests.conftest import START
from tests.support.history import FIVE, answered_session
from tests.support.practice import add_clinician_with_client, create_practice


@contextmanager
def statements(stack: Stack) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(stack.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(stack.db.engine, "before_cursor_execute", record)


def test_evaluation_reads_the_same_whatever_the_length_of_the_history(
    stack: Stack, http: httpx.Client
) -> None:
    practice = create_practice(http)
    drew, sam = add_clinician_with_client(practice)
    pid = UUID(practice.practice_id)
    short = (UUID(practice.client["id"]), UUID(practice.clinician["id"]), 3)
    long = (UUID(sam), UUID(drew), 40)
    for client, clinician, prior in (short, long):
        for n in range(prior):
            at = START - timedelta(days=prior - n)
            answered_session(stack.db, pid, client, clinician, at=at, scores=FIVE | {"pace": 4})

    seen: dict[int, list[str]] = {}
    for client, clinician, prior in (short, long):
        dip = answered_session(
            stack.db, pid, client, clinician, at=START, scores=FIVE | {"honest": 2}, evaluate=False
        )
        with statements(stack) as executed, stack.db.transaction(pid) as session:
            assert alerts.evaluate_response(session, dip, now=START)
        seen[prior] = executed

    assert len(seen[3]) == len(seen[40]) >= 8
    # The same statements, in the same order (only the bound values differ).
    assert seen[3] == seen[40]
    # Past answers are never read back: the response table is touched by primary key, and
    # once for the client's answers still unevaluated (the partial index
    # ix_response_unevaluated_client holds those alone), which are evaluated first.
    for statement in seen[40]:
        if "FROM response" in statement:
            assert "WHERE response.id =" in statement or (
                "response.client_id =" in statement and "response.evaluated_at IS NULL" in statement
            ), statement
