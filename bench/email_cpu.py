"""CPU per email of the send path itself, without the broker: `deliver()` in a loop on one
thread, to the same kind of SMTP server and database as bench.email_rate.

    python -m bench.email_cpu [--emails 400] [--profile]

Counts the CPU time of the sending thread only (the SMTP server runs in this process too), so
the figure moves less with the machine's load than a worker process's CPU, whose fixed costs
per second (consumers polling Redis, heartbeats) weigh on few emails when the rate is low.
`--profile` prints cProfile's top entries on a CPU-time clock.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from uuid import UUID

from litestar.testing import TestClient
from sqlmodel import select

from bench.email_rate import _queue_surveys
from bench.mail import RecordingSink
from bench.seed import set_up_practice
from bench.support import (
    environment,
    fresh_database,
    in_process_settings,
    machine_note,
    table,
)
from services.bootstrap import build_stack
from shared.email.smtp import SmtpMailer
from shared.logging import configure_logging
from shared.models import Notification
from shared.notifications.delivery import deliver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=400)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    print(f"email send path, in-process; {machine_note()}")
    configure_logging("WARNING")

    fresh_database()
    clients = 100
    with RecordingSink() as sink:
        env = environment(ATTUNE_SMTP_PORT=str(sink.port))
        settings = in_process_settings(env, sink.port)
        stack = build_stack(settings)
        with TestClient(stack.api()) as http:
            practice = set_up_practice(http, "mail", clinicians=5, clients=clients, immediate=False)
        _queue_surveys(stack.db, practice, -(-args.emails // clients))
        with stack.db.transaction(practice.id) as session:
            ids = list(session.exec(select(Notification.id)).all())
        mailer = SmtpMailer.from_settings(settings)

        def send(notification_id: UUID) -> None:
            deliver(stack.db, stack.clock, mailer, settings, practice.id, notification_id)

        # The first email opens the connections and prepares what is built once.
        send(ids[0])
        profile = cProfile.Profile(time.thread_time)
        cpu_before, began = time.thread_time(), time.perf_counter()
        if args.profile:
            profile.enable()
        for notification_id in ids[1:]:
            send(notification_id)
        profile.disable()
        cpu, seconds = time.thread_time() - cpu_before, time.perf_counter() - began
        sent = len(ids) - 1
        if sink.count() != len(ids):
            raise SystemExit(f"the server took {sink.count()} of {len(ids)} emails")
        mailer.close()
        stack.stop()

    table(
        "Survey emails sent by deliver() in a loop, one thread",
        ["emails", "per second", "thread CPU ms/email", "profiled"],
        [
            [
                sent,
                f"{sent / seconds:.0f}",
                f"{cpu * 1000 / sent:.2f}",
                "yes" if args.profile else "",
            ]
        ],
    )
    if args.profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
