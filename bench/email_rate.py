"""Emails rendered and delivered per second by one worker process, beside plain smtplib
sending the same bytes to the same SMTP server.

    python -m bench.email_rate [--emails 1000] [--threads 1 4]

The notifications (survey invitations) are queued in the database first; the clock starts
when their messages are published and stops when the server has accepted the last email.
The raw limit resends the very bytes the server received, from one thread: once with a
connection per message, once over a single connection. Attune's mailer keeps one connection
per worker thread (shared/email/smtp.py), so the like-for-like limit is the single connection:
the target (at least 50% of it, per worker process) is judged against that one; the ratio to a
connection per message is printed beside it.
"""

from __future__ import annotations

import argparse
import smtplib
import time
from datetime import UTC, datetime

from litestar.testing import TestClient
from sqlmodel import select

from bench.mail import Arrival, RecordingSink
from bench.seed import SeededPractice, open_surveys, set_up_practice
from bench.support import (
    cpu_seconds,
    environment,
    fresh_database,
    in_process_settings,
    machine_note,
    served,
    table,
    wait_until,
)
from services.bootstrap import build_stack
from services.worker.broker import BrokerPublisher
from shared.db import Database
from shared.logging import configure_logging
from shared.models import Invitation, Notification, NotificationKind
from shared.notifications.queue import queue_notification
from shared.outbox import relay

# Issue "Survey answers and emails at the speed of their parts", item 2.
TARGET_SHARE = 0.5


def _queue_surveys(db: Database, practice: SeededPractice, tokens_per_client: int) -> int:
    """Sent surveys whose emails are queued and not yet published: the worker's backlog."""
    now = datetime.now(UTC)
    open_surveys(db, practice, tokens_per_client, now=now)
    with db.transaction(practice.id) as session:
        queued = set(session.exec(select(Notification.subject_id)).all())
        # Scoped in the query too: on SQLite (bench.serve) no row-level security does it.
        invitations = [
            i
            for i in session.exec(
                select(Invitation.id).where(Invitation.practice_id == practice.id)
            ).all()
            if i not in queued
        ]
        for invitation_id in invitations:
            queue_notification(
                session,
                practice_id=practice.id,
                kind=NotificationKind.SURVEY,
                key=f"survey:{invitation_id}",
                subject_id=invitation_id,
                now=now,
            )
    return len(invitations)


def _smtplib(arrivals: list[Arrival], port: int, *, reuse: bool) -> float:
    began = time.perf_counter()
    if reuse:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as connection:
            for arrival in arrivals:
                connection.sendmail(arrival.sender, arrival.recipients, arrival.content)
    else:
        for arrival in arrivals:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as connection:
                connection.sendmail(arrival.sender, arrival.recipients, arrival.content)
    return len(arrivals) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    print(f"email delivery; {machine_note()}")
    configure_logging("WARNING")

    fresh_database()
    rows: list[list[object]] = []
    with RecordingSink() as sink:
        env = environment(ATTUNE_SMTP_PORT=str(sink.port))
        settings = in_process_settings(env, sink.port)
        stack = build_stack(settings)
        publisher = BrokerPublisher(stack.broker)
        clients = 100
        with TestClient(stack.api()) as http:
            practice = set_up_practice(http, "mail", clinicians=5, clients=clients, immediate=False)
        for threads in args.threads:
            queued = _queue_surveys(stack.db, practice, -(-args.emails // clients))
            sink.clear()
            with served(
                # No ops endpoint: its fixed port may be taken by another worker on the machine.
                ["-m", "services.cli", "worker", "--threads", str(threads), "--ops-port", "0"],
                env,
                f"worker-{threads}",
            ) as worker:
                # Let the worker connect before the clock starts: a first message, timed apart.
                time.sleep(3)
                cpu_before = cpu_seconds(worker.pid)
                began = time.perf_counter()
                relay(stack.db, publisher, stack.clock)
                wait_until(lambda q=queued: sink.count() >= q, seconds=600, what="every email")
                seconds = time.perf_counter() - began
                cpu = cpu_seconds(worker.pid) - cpu_before
            rows.append(
                [
                    f"attune worker, {threads} thread(s)",
                    queued,
                    f"{queued / seconds:.0f}",
                    f"{cpu * 1000 / queued:.1f}",
                ]
            )
        arrivals = sink.snapshot()
        sink.clear()
        rows.append(
            [
                "smtplib, same bytes, connection per message",
                len(arrivals),
                f"{_smtplib(arrivals, sink.port, reuse=False):.0f}",
                "",
            ]
        )
        sink.clear()
        rows.append(
            [
                "smtplib, same bytes, one connection",
                len(arrivals),
                f"{_smtplib(arrivals, sink.port, reuse=True):.0f}",
                "",
            ]
        )
        stack.stop()
    per_message, one_connection = (float(str(row[2])) for row in rows[-2:])
    for row in rows[:-2]:
        rate = float(str(row[2]))
        share = rate / one_connection
        verdict = "met" if share >= TARGET_SHARE else "missed"
        row += [f"{share:.0%}", f"{rate / per_message:.0%}", f"{verdict} ({share:.0%})"]
    for row in rows[-2:]:
        row += ["", "", ""]
    table(
        "Emails rendered and delivered per second (survey invitations, one worker process)",
        [
            "sender",
            "emails",
            "per second",
            "worker CPU ms/email",
            "of smtplib one conn (like-for-like)",
            "of smtplib conn per msg",
            f"target >= {TARGET_SHARE:.0%} of one conn",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
