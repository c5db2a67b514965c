"""Evaluation cost per answer for a client with 10 and with 10,000 prior answers.

Runs the real domain function the worker calls (shared.alerts.service.evaluate_response),
each answer in its own committed transaction, against a real database: a fresh SQLite file by
default, or an empty PostgreSQL database given with --database-url. Prints a table of the
time per answer and the SQL statements each evaluation ran, and the ratio between the two
clients. Constant cost means a ratio near 1 and the same statement count.

    .venv/bin/python bench/detection.py [--answers 300] [--database-url URL]

The prior answers are written in bulk (appointment, invitation, response rows, and for one
answer in ten a past alert with its sent nudge) and the client's running summary is folded
from them with the same pure History the worker keeps: evaluating 10,000 answers one by one
first would only make the setup slow.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import fmean
from uuid import UUID, uuid4

from sqlalchemy import inspect
from sqlmodel import Session

from bench.support import counting_statements
from shared.alerts import service as alerts
from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.detection import History
from shared.models import (
    Account,
    Alert,
    AlertStatus,
    Client,
    ClientHistory,
    Nudge,
    NudgeStatus,
    RepairOutcome,
    Role,
)
from shared.practice.service import sign_up

# The rows of a past session are built where the tests build them: one way to do it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.history import FIVE, PastSession, session_rows, store

START = datetime(2020, 1, 6, 9, tzinfo=UTC)
# The answers timed: mostly steady, now and then a dip that raises an alert, the same
# sequence for both clients so they do the same work.
PATTERN = [FIVE, FIVE | {"pace": 4}, FIVE, FIVE | {"honest": 2, "input": 3}, FIVE | {"input": 4}]


@dataclass
class Subject:
    practice_id: UUID
    client_id: UUID
    clinician_id: UUID


def _client_with_history(db: Database, practice_id: UUID, prior: int) -> Subject:
    with db.transaction(practice_id) as session:
        clinician = Account(
            practice_id=practice_id,
            email=f"clinician-{prior}@bench.example.com",
            name=f"Clinician {prior}",
            role=Role.CLINICIAN,
            created_at=START,
        )
        session.add(clinician)
        session.flush()
        client = Client(
            practice_id=practice_id,
            clinician_id=clinician.id,
            reference=f"BC-{prior}",
            email=f"client-{prior}@bench.example.com",
            created_at=START,
        )
        session.add(client)
        session.flush()
        subject = Subject(practice_id, client.id, clinician.id)
    history = History()
    rows = []
    for n in range(prior):
        at = START + timedelta(hours=n)
        scores = FIVE | {"pace": 4 + n % 2, "input": 4 + n % 3 // 2}
        past = session_rows(practice_id, client.id, clinician.id, at=at, scores=scores)
        assert past.response is not None
        past.response.evaluated_at = at  # as the worker left it
        rows.append(past)
        history = history.with_answer(fmean(scores.values()), scores)
    store(db, practice_id, rows)
    _past_alerts(db, subject, rows)
    with db.transaction(practice_id) as session:
        session.add(
            ClientHistory(
                client_id=subject.client_id,
                practice_id=practice_id,
                answered=history.answered,
                total=history.total,
                total_sq=history.total_sq,
                last_mean=history.last_mean,
                decline_streak=history.decline_streak,
            )
        )
    return subject


def _past_alerts(db: Database, subject: Subject, rows: list[PastSession]) -> None:
    """One past answer in ten raised an alert, nudged before the next session and settled by
    the answer after it; half were never acknowledged. A long history has these too."""
    alerts_, nudges = [], []
    for dip, after in zip(rows[::10], rows[1::10], strict=False):
        assert dip.response is not None and after.response is not None
        at = dip.response.submitted_at
        alerts_.append(
            Alert(
                practice_id=subject.practice_id,
                source_key=f"response:{dip.response.id}",
                client_id=subject.client_id,
                clinician_id=subject.clinician_id,
                response_id=dip.response.id,
                target_appointment_id=after.appointment.id,
                settings_version=1,
                evidence=[{"rule": "floor", "items": [], "numbers": {}, "moves": []}],
                moves=["invite_feedback"],
                status=AlertStatus.OPEN if len(alerts_) % 2 else AlertStatus.ACKNOWLEDGED,
                created_at=at,
                repair=RepairOutcome.REPAIRED,
                repair_response_id=after.response.id,
                repair_at=after.response.submitted_at,
            )
        )
        nudges.append(
            Nudge(
                practice_id=subject.practice_id,
                appointment_id=after.appointment.id,
                clinician_id=subject.clinician_id,
                status=NudgeStatus.SENT,
                due_at=at,
                sent_at=at,
                created_at=at,
            )
        )
    with db.transaction(subject.practice_id) as session:
        session.add_all(alerts_)
        session.add_all(nudges)


def _time_answers(db: Database, subject: Subject, answers: int) -> tuple[list[float], float]:
    later = START + timedelta(days=3000)
    rows = [
        session_rows(
            subject.practice_id,
            subject.client_id,
            subject.clinician_id,
            at=later + timedelta(hours=n),
            scores=PATTERN[n % len(PATTERN)],
        )
        for n in range(answers)
    ]
    store(db, subject.practice_id, rows)
    timings: list[float] = []
    with counting_statements(db) as statements:
        for past in rows:
            response = past.response
            assert response is not None
            began = time.perf_counter()
            with db.transaction(subject.practice_id) as session:
                alerts.evaluate_response(session, response.id, now=response.submitted_at)
            timings.append((time.perf_counter() - began) * 1000)
    return timings, statements[0] / answers


def _fresh(url: str) -> None:
    database = create_database(url)
    try:
        if set(inspect(database.engine).get_table_names()) - {"alembic_version"}:
            sys.exit(f"{url.split('@')[-1]} is not empty: give an empty database.")
    finally:
        database.dispose()
    upgrade(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=300, help="answers timed per client")
    parser.add_argument("--database-url", help="an empty database (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        _fresh(url)
        db = create_database(url)
        practice = uuid4()
        with db.transaction(practice) as session:
            _practice(session, practice)
        results = []
        for prior in (10, 10_000):
            subject = _client_with_history(db, practice, prior)
            evaluate_warm_up(db, subject)
            timings, statements = _time_answers(db, subject, args.answers)
            results.append((prior, timings, statements))
        db.dispose()

    print(f"\nDetection: evaluation per answer ({db.dialect}, {args.answers} answers each)\n")
    print(
        f"{'prior answers':>14} | {'median ms':>9} | {'p90 ms':>7} | {'mean ms':>7} | "
        f"{'SQL statements/answer':>21}"
    )
    print("-" * 72)
    medians = []
    for prior, timings, statements in results:
        median = statistics.median(timings)
        medians.append(median)
        p90 = statistics.quantiles(timings, n=10)[-1]
        print(
            f"{prior:>14,} | {median:>9.3f} | {p90:>7.3f} | {fmean(timings):>7.3f} | "
            f"{statements:>21.2f}"
        )
    print("-" * 72)
    print(f"{'ratio 10,000 / 10 (median)':>26}: {medians[1] / medians[0]:.2f}\n")


def _practice(session: Session, practice_id: UUID) -> None:
    sign_up(
        session,
        practice_id=practice_id,
        practice_name="Bench Practice",
        owner_email="owner@bench.example.com",
        owner_name="Owner",
        password="a long bench password",
        timezone="UTC",
        now=START,
    )


def evaluate_warm_up(db: Database, subject: Subject) -> None:
    """A few untimed answers first, so connection set-up and caches are not measured."""
    _time_answers(db, subject, 5)


if __name__ == "__main__":
    main()
