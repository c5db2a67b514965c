"""The worker's cost of evaluating one answer: CPU and statements per evaluation.

Runs what the evaluate_response actor runs (a transaction in the answer's practice, then
shared.alerts.service.evaluate_response) for answers already stored, in submission order,
one transaction each, in this one process: its CPU time over the loop is the evaluation's
own, without the broker's. Connects as the application's role under forced row-level
security, as the worker does. Most answers raise no alert, as in the week replay (one in
`--dip-every` dips and raises one); every client's first answer creates its history row.

    ATTUNE_BENCH_DATABASE_URL=... .venv/bin/python -m bench.evaluation [--answers 2000]

Round trips are not counted here: `strace -f -c -e trace=sendto -p <pid>` on the printed pid
while the loop runs gives them (one sendto per round trip on psycopg).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from bench.support import (
    counting_statements,
    fresh_database,
    machine_note,
    production_database,
    table,
)
from shared.alerts import service as alerts
from shared.db import Database
from shared.logging import configure_logging
from shared.models import Account, Client, Role
from shared.practice.service import sign_up
from tests.support.history import FIVE, PastSession, session_rows, store

START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _setup(db: Database, clients: int, answers: int, dip_every: int) -> tuple[UUID, list[UUID]]:
    practice_id = uuid4()
    with db.transaction(practice_id) as session:
        sign_up(
            session,
            practice_id=practice_id,
            practice_name="Bench Practice",
            owner_email=f"owner-{practice_id}@bench.example.com",
            owner_name="Owner",
            password="a long bench password",
            timezone="UTC",
            now=START,
        )
    with db.transaction(practice_id) as session:
        clinician = Account(
            practice_id=practice_id,
            email=f"clinician-{practice_id}@bench.example.com",
            name="Clinician",
            role=Role.CLINICIAN,
            created_at=START,
        )
        session.add(clinician)
        session.flush()
        people = [
            Client(
                practice_id=practice_id,
                clinician_id=clinician.id,
                reference=f"BE-{n}",
                email=f"client-{n}-{practice_id}@bench.example.com",
                created_at=START,
            )
            for n in range(clients)
        ]
        session.add_all(people)
        session.flush()
        pairs = [(person.id, clinician.id) for person in people]
    rows: list[PastSession] = []
    for n in range(answers):
        client_id, clinician_id = pairs[n % clients]
        scores = FIVE | {"honest": 1, "input": 1} if n % dip_every == dip_every - 1 else FIVE
        rows.append(
            session_rows(
                practice_id,
                client_id,
                clinician_id,
                at=START + timedelta(minutes=n),
                scores=scores,
            )
        )
    store(db, practice_id, rows)
    return practice_id, [row.response.id for row in rows if row.response is not None]


def _evaluate(db: Database, practice_id: UUID, answers: list[UUID]) -> tuple[list[float], int]:
    timings: list[float] = []
    alerted = 0
    for n, response_id in enumerate(answers):
        began = time.process_time()
        with db.transaction(practice_id) as session:
            alerted += alerts.evaluate_response(
                session, response_id, now=START + timedelta(minutes=n, seconds=30)
            )
        timings.append((time.process_time() - began) * 1000)
    return timings, alerted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--dip-every", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.0, help="seconds before the loop")
    args = parser.parse_args()
    # An alert's info line per answer would bury the table (as in bench.email_cpu).
    configure_logging("WARNING")
    fresh_database()
    db = production_database()
    practice_id, answers = _setup(db, args.clients, args.answers, args.dip_every)
    warm, answers = answers[:20], answers[20:]
    _evaluate(db, practice_id, warm)
    print(f"pid {os.getpid()}: evaluating {len(answers)} answers", flush=True)
    time.sleep(args.pause)
    with counting_statements(db) as statements:
        began = time.perf_counter()
        cpu_began = time.process_time()
        timings, alerted = _evaluate(db, practice_id, answers)
        cpu = time.process_time() - cpu_began
        wall = time.perf_counter() - began
    db.dispose()
    print(machine_note())
    table(
        f"Evaluation per answer ({len(answers)} answers of {args.clients} clients, "
        f"{alerted} alerts)",
        ["figure", "value"],
        [
            ["CPU ms per answer (mean)", f"{cpu * 1000 / len(answers):.3f}"],
            ["CPU ms per answer (median)", f"{statistics.median(timings):.3f}"],
            ["wall ms per answer", f"{wall * 1000 / len(answers):.3f}"],
            ["SQLAlchemy statements per answer", f"{statements[0] / len(answers):.2f}"],
        ],
    )


if __name__ == "__main__":
    main()
