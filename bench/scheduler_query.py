"""The scheduler's due-nudge query and a whole tick, on a database the size of a large
deployment: 1,000,000 appointments, 100,000 open alerts with their 100,000 pending nudges,
750,000 invitations, 300,000 sent emails and 750,000 published outbox events, bulk-loaded
with generate_series.

    python -m bench.scheduler_query [--practices 1000]

Beside them, the raw limits: the same SQL through psycopg alone, and a bare `SELECT 1`.
EXPLAIN (ANALYZE) shows which index each of the tick's queries uses.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, event, text

from bench.support import (
    OWNER_URL,
    fresh_database,
    machine_note,
    ms,
    percentile,
    production_database,
    table,
)
from services.worker.scheduler import tick
from shared.alerts.nudges import due_nudges
from shared.clock import ManualClock
from shared.logging import configure_logging

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DUE_NOW = 1000  # pending nudges already due (more than one tick's batch of 200)

LOAD = [
    """INSERT INTO practice (id, name, settings_version, created_at)
       SELECT md5('p' || p)::uuid, 'Practice ' || p, 1, :now
       FROM generate_series(1, :practices) p""",
    """INSERT INTO account (id, practice_id, email, name, role, timezone, created_at)
       SELECT md5('a' || p || '-' || c)::uuid, md5('p' || p)::uuid,
              'c' || c || '@p' || p || '.bench.example', 'Clinician', 'clinician',
              'Europe/London', :now
       FROM generate_series(1, :practices) p, generate_series(0, 9) c""",
    """INSERT INTO client (id, practice_id, clinician_id, reference, email, timezone, created_at)
       SELECT md5('k' || p || '-' || k)::uuid, md5('p' || p)::uuid,
              md5('a' || p || '-' || (k % 10))::uuid, 'RC-' || k,
              'k' || k || '@p' || p || '.bench.example', 'Europe/London', :now
       FROM generate_series(1, :practices) p, generate_series(0, 249) k""",
    # Four sessions per client: three held weekly, the next one ahead (within 30 days).
    """INSERT INTO appointment (id, practice_id, client_id, clinician_id, external_id,
                                starts_at, ends_at, status, completed_at, updated_at)
       SELECT md5('ap' || p || '-' || k || '-' || n)::uuid, md5('p' || p)::uuid,
              md5('k' || p || '-' || k)::uuid, md5('a' || p || '-' || (k % 10))::uuid,
              'x-' || k || '-' || n, s, s + interval '50 minutes',
              CASE WHEN n < 3 THEN 'completed' ELSE 'scheduled' END,
              CASE WHEN n < 3 THEN s + interval '50 minutes' END, :now
       FROM generate_series(1, :practices) p, generate_series(0, 249) k,
            generate_series(0, 3) n,
            LATERAL (SELECT :now + (n - 3) * interval '7 days'
                            + ((p * 250 + k) % 43200) * interval '1 minute' AS s) t""",
    """INSERT INTO invitation (id, practice_id, appointment_id, client_id, status, send_at,
                               sent_at, expires_at, answered_at, created_at)
       SELECT md5('i' || p || '-' || k || '-' || n)::uuid, md5('p' || p)::uuid,
              md5('ap' || p || '-' || k || '-' || n)::uuid, md5('k' || p || '-' || k)::uuid,
              CASE WHEN n = 2 AND k < 5 THEN 'scheduled' WHEN n = 2 AND k < 25 THEN 'sent'
                   WHEN k % 3 = 0 THEN 'expired' ELSE 'answered' END,
              t.s, t.s, t.s + interval '6 days', t.s + interval '1 day', t.s
       FROM generate_series(1, :practices) p, generate_series(0, 249) k,
            generate_series(0, 2) n,
            LATERAL (SELECT :now + (n - 2) * interval '7 days' + interval '2 days'
                            + ((p * 250 + k) % 4320) * interval '1 minute' AS s) t""",
    """INSERT INTO notification (id, practice_id, key, kind, subject_id, status, attempts,
                                 next_attempt_at, claimed_at, sent_at, created_at)
       SELECT md5('n' || p || '-' || k || '-' || n)::uuid, md5('p' || p)::uuid,
              'survey:' || md5('i' || p || '-' || k || '-' || n),
              'survey', md5('i' || p || '-' || k || '-' || n)::uuid, 'sent', 1,
              :now - interval '8 days', :now - interval '8 days', :now - interval '8 days',
              :now - interval '8 days'
       FROM generate_series(1, :practices) p, generate_series(0, 99) k,
            generate_series(0, 2) n""",
    # The outbox keeps what it published: one event per session held, all sent.
    """INSERT INTO outbox_event (practice_id, actor, args, created_at, published_at)
       SELECT md5('p' || p)::uuid, 'schedule_invitation', '[]', :now - interval '7 days',
              :now - interval '7 days'
       FROM generate_series(1, :practices) p, generate_series(0, 249) k,
            generate_series(0, 2) n""",
    # 100 clients per practice have an open alert aimed at their next session, and its
    # pending nudge; DUE_NOW of those nudges are already due, the rest later this month.
    """INSERT INTO alert (id, practice_id, source_key, client_id, clinician_id,
                          target_appointment_id, settings_version, evidence, moves, status,
                          created_at)
       SELECT md5('al' || p || '-' || k)::uuid, md5('p' || p)::uuid,
              'response:' || md5('al' || p || '-' || k), md5('k' || p || '-' || k)::uuid,
              md5('a' || p || '-' || (k % 10))::uuid, md5('ap' || p || '-' || k || '-3')::uuid,
              1, '[]', '["invite_feedback"]', 'open', :now - interval '2 days'
       FROM generate_series(1, :practices) p, generate_series(0, 99) k""",
    """INSERT INTO nudge (id, practice_id, appointment_id, clinician_id, status, due_at,
                          created_at)
       SELECT md5('nu' || p || '-' || k)::uuid, md5('p' || p)::uuid,
              md5('ap' || p || '-' || k || '-3')::uuid, md5('a' || p || '-' || (k % 10))::uuid,
              'pending',
              CASE WHEN (p * 100 + k) % GREATEST(1, :practices * 100 / :due_now) = 0
                   THEN :now - interval '1 minute' * (k + 1)
                   ELSE :now + interval '1 hour' + ((p * 100 + k) % 40000) * interval '1 minute'
              END,
              :now - interval '2 days'
       FROM generate_series(1, :practices) p, generate_series(0, 99) k""",
]
COUNTS = ["appointment", "invitation", "notification", "outbox_event", "alert", "nudge"]
EXPLAINED = (
    "FROM nudge",
    "FROM invitation",
    "UPDATE notification",
    "FROM notification",
    "FROM outbox_event",
)


def load(practices: int) -> dict[str, int]:
    engine = create_engine(OWNER_URL)
    naive_now = NOW.replace(tzinfo=None)
    with engine.begin() as connection:
        for statement in LOAD:
            connection.execute(
                text(statement), {"now": naive_now, "practices": practices, "due_now": DUE_NOW}
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        counts = {
            name: connection.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in COUNTS
        }
        counts["pending nudges"] = connection.execute(
            text("SELECT count(*) FROM nudge WHERE status = 'pending'")
        ).scalar_one()
    engine.dispose()
    return counts


def timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return samples


class _Publisher:
    def publish(self, actor: str, args: object) -> None:
        raise AssertionError("nothing is due, so nothing is published")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    configure_logging("WARNING")
    print(f"scheduler query; {machine_note()}")
    fresh_database()
    began = time.perf_counter()
    counts = load(args.practices)
    print(
        f"loaded in {time.perf_counter() - began:.0f} s: "
        + ", ".join(f"{count:,} {name}" for name, count in counts.items())
    )

    # As the scheduler runs: due work is found as the system role (Database.across_practices),
    # each item is then handled as the application's role in its practice.
    db = production_database()
    captured: list[tuple[str, object]] = []

    def capture(*event_args: Any) -> None:
        # before_cursor_execute(connection, cursor, statement, parameters, context, many)
        captured.append((event_args[2], event_args[3]))

    event.listen(db.system_engine, "before_cursor_execute", capture)
    with db.across_practices() as session:
        found = due_nudges(session, now=NOW, limit=200)
    quiet = NOW - timedelta(days=30)  # before anything falls due: the steady-state tick
    tick(db, ManualClock(quiet), _Publisher())
    event.remove(db.system_engine, "before_cursor_execute", capture)
    nudge_sql, nudge_params = next(c for c in captured if "FROM nudge" in c[0])

    def orm_query() -> None:
        with db.across_practices() as session:
            due_nudges(session, now=NOW, limit=200)

    raw = db.system_engine.raw_connection()
    cursor = raw.cursor()

    def raw_query() -> None:
        cursor.execute(nudge_sql, nudge_params)
        cursor.fetchall()
        raw.commit()

    def select_one() -> None:
        cursor.execute("SELECT 1")
        cursor.fetchall()
        raw.commit()

    clock = ManualClock(quiet)
    results = {
        "SELECT 1 round trip (psycopg)": timed(select_one, args.runs),
        "due-nudge query, raw psycopg": timed(raw_query, args.runs),
        "due-nudge query, shared.alerts.nudges": timed(orm_query, args.runs),
        "whole tick, nothing due (5 queries + relay)": timed(
            lambda: tick(db, clock, _Publisher()), args.runs
        ),
    }
    plans = []
    for statement, parameters in captured:
        if any(marker in statement for marker in EXPLAINED) and "set_config" not in statement:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, parameters)
            plans.append((statement, [row[0] for row in cursor.fetchall()]))
            raw.rollback()
    raw.close()
    db.dispose()

    table(
        f"Scheduler on {counts['appointment']:,} appointments, "
        f"{counts['pending nudges']:,} pending nudges ({len(found)} of them returned as due)",
        ["what", "runs", "p50 ms", "p95 ms"],
        [
            [name, len(s), ms(percentile(s, 0.5)), ms(percentile(s, 0.95))]
            for name, s in results.items()
        ],
    )
    for statement, plan in plans:
        print("\n" + " ".join(statement.split())[:160])
        for line in plan:
            print("   " + line)


if __name__ == "__main__":
    main()
