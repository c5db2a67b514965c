"""The scheduler's own throughput: items per second, and CPU per item, for each job that
moves work, beside its raw limit in the same run.

    python -m bench.scheduler_rate [--practices 20] [--items 1000]

The database is bench.scheduler_query's (bulk-loaded with generate_series, `--practices` of
them); then 2 x `--items` rows of each job are made due: invitations to send, nudges to send,
sent invitations to expire, and pending emails whose sweep time has passed. Of each job's due
rows, the first half goes through the scheduler's own code (services.worker.scheduler's job
loop: the finder across practices, then each item's act in its own transaction as its
practice), the second half through its raw limit: the same finder, then per item one
transaction on a bare psycopg connection as the application's role, with only the writes that
item needs (set the practice, the conditional UPDATE, the email's row and its outbox event)
as literal SQL. An expiry's raw limit leaves out the silence rule, which the scheduler runs.

Nothing is published: this measures the tick's jobs, not the relay (that is the outbox
relay's work, measured elsewhere). CPU is this process's (the scheduler's side); the
database's CPU is not in it.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import create_engine, text

from bench.scheduler_query import NOW, load
from bench.support import OWNER_URL, fresh_database, machine_note, production_database, table
from services.worker import scheduler
from shared.db import Database
from shared.logging import configure_logging
from shared.notifications.queue import SWEEP_AFTER
from shared.practice.settings import PracticeSettings

# Each job's rows, made due: 2 x items of each, oldest first by a minute apiece.
DUE = {
    "send_invitation": """
        UPDATE invitation SET status = 'scheduled', send_at = :now - interval '1 hour',
               sent_at = NULL, expires_at = NULL, answered_at = NULL
        WHERE id IN (SELECT i.id FROM invitation i WHERE i.status = 'answered'
                     AND NOT EXISTS (SELECT 1 FROM notification n WHERE n.subject_id = i.id)
                     ORDER BY i.id LIMIT :count)""",
    "send_nudge": """
        UPDATE nudge SET due_at = :now - interval '1 hour'
        WHERE id IN (SELECT id FROM nudge WHERE status = 'pending' ORDER BY id LIMIT :count)""",
    "expire_invitation": """
        UPDATE invitation SET status = 'sent', expires_at = :now - interval '1 hour',
               answered_at = NULL
        WHERE id IN (SELECT id FROM invitation WHERE status = 'expired'
                     ORDER BY id LIMIT :count)""",
    "requeue_notification": """
        UPDATE notification SET status = 'pending', next_attempt_at = :now - interval '1 hour'
        WHERE id IN (SELECT id FROM notification WHERE status = 'sent'
                     ORDER BY id LIMIT :count)""",
}

SET_PRACTICE = "SELECT set_config('app.practice_id', %(practice)s, true)"
QUEUE_EMAIL = """
    INSERT INTO notification (id, practice_id, key, kind, subject_id, status, attempts,
                              next_attempt_at, created_at)
    VALUES (%(notification)s, %(practice)s, %(key)s, %(kind)s, %(id)s, 'pending', 0,
            %(sweep)s, %(now)s)
    ON CONFLICT (key) DO NOTHING"""
EMIT = """
    INSERT INTO outbox_event (practice_id, actor, args, created_at)
    VALUES (%(practice)s, 'deliver_notification', %(args)s, %(now)s)"""
# The raw limit's writes per item, after SET_PRACTICE; the item counts if the first took it.
RAW: dict[str, list[str]] = {
    "send_invitation": [
        """UPDATE invitation SET status = 'sent', sent_at = %(now)s,
                  expires_at = %(now)s + interval '72 hours'
           WHERE id = %(id)s AND status = 'scheduled'""",
        QUEUE_EMAIL,
        EMIT,
    ],
    "send_nudge": [
        """UPDATE nudge SET status = 'sent', sent_at = %(now)s
           WHERE id = %(id)s AND status = 'pending' AND due_at <= %(now)s""",
        QUEUE_EMAIL,
        EMIT,
    ],
    "expire_invitation": [
        """UPDATE invitation SET status = 'expired'
           WHERE id = %(id)s AND status = 'sent' AND expires_at <= %(now)s""",
    ],
    "requeue_notification": [
        """UPDATE notification SET next_attempt_at = %(sweep)s
           WHERE id = %(id)s AND status = 'pending' AND next_attempt_at <= %(now)s""",
        EMIT,
    ],
}
KIND = {"send_invitation": "survey", "send_nudge": "nudge"}


def add_settings(practices: int) -> None:
    """bench.scheduler_query loads no settings versions (its tick finds nothing due); the acts
    read each practice's current one: the defaults, every survey sent at once."""
    body = PracticeSettings(timezone="Europe/London").model_dump(mode="json")
    body["timing"]["survey_delay_minutes"] = 0
    engine = create_engine(OWNER_URL)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO practice_settings_version (id, practice_id, version, body, "
                "created_at) SELECT gen_random_uuid(), md5('p' || p)::uuid, 1, "
                "CAST(:body AS json), :now FROM generate_series(1, :practices) p"
            ),
            {"body": json.dumps(body), "now": NOW.replace(tzinfo=None), "practices": practices},
        )
    engine.dispose()


def make_due(job: str, count: int) -> None:
    engine = create_engine(OWNER_URL)
    with engine.begin() as connection:
        connection.execute(text(DUE[job]), {"now": NOW.replace(tzinfo=None), "count": count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def measured(run: Callable[[], int]) -> tuple[int, float, float]:
    """(items done, wall seconds, this process's CPU seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    done = run()
    return done, time.perf_counter() - wall, time.process_time() - cpu


def through_scheduler(db: Database, job: scheduler.Job, items: int) -> int:
    report = scheduler.TickReport()
    done = 0
    while done < items:
        before = getattr(report, job.report)
        scheduler._run(db, NOW, job, report, min(scheduler.BATCH, items - done))
        if getattr(report, job.report) == before:
            break
        done = getattr(report, job.report)
    if report.items_failed:
        raise SystemExit(f"{job.name}: {report.items_failed} items failed: {report.failures[:3]}")
    return done


def raw_limit(db: Database, job: scheduler.Job, items: int) -> int:
    connection = db.engine.raw_connection()
    cursor = connection.cursor()
    done = 0
    try:
        while done < items:
            with db.across_practices() as session:
                due = job.find(session, now=NOW, limit=min(scheduler.BATCH, items - done))
            if not due:
                break
            for practice_id, item_id in due:
                done += _raw_item(cursor, job.name, practice_id, item_id)
                connection.commit()
    finally:
        connection.close()
    return done


def _raw_item(cursor: Any, job: str, practice_id: UUID, item_id: UUID) -> int:
    notification = uuid4()
    values = {
        "practice": str(practice_id),
        "id": item_id,
        "now": NOW,
        "sweep": NOW + SWEEP_AFTER,
        "notification": notification,
        "key": f"{KIND.get(job)}:{item_id}",
        "kind": KIND.get(job),
        "args": json.dumps([str(practice_id), str(notification if job in KIND else item_id)]),
    }
    cursor.execute(SET_PRACTICE, values)
    claim, *rest = RAW[job]
    cursor.execute(claim, values)
    if cursor.rowcount != 1:
        return 0
    for statement in rest:
        cursor.execute(statement, values)
    return 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=20)
    parser.add_argument("--items", type=int, default=1000, help="items per job and way")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(f"scheduler rate; {machine_note()}")
    fresh_database()
    counts = load(args.practices)
    add_settings(args.practices)
    print(", ".join(f"{count:,} {name}" for name, count in counts.items()))
    db = production_database()
    jobs = {job.name: job for job in scheduler.jobs(NOW - timedelta(seconds=5))}
    rows = []
    for name in DUE:
        make_due(name, 2 * args.items)
        job = jobs[name]
        for way, run in (("scheduler", through_scheduler), ("raw limit", raw_limit)):
            done, wall, cpu = measured(functools.partial(run, db, job, args.items))
            rows.append(
                [
                    name,
                    way,
                    done,
                    f"{done / wall:.0f}" if wall else "-",
                    f"{cpu / done * 1000:.2f}" if done else "-",
                ]
            )
    db.dispose()
    table(
        f"Scheduler items per second, one thread ({args.practices} practices; {machine_note()})",
        ["job", "way", "items", "items/s", "CPU ms/item (this process)"],
        rows,
    )


if __name__ == "__main__":
    main()
