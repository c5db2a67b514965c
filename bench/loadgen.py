"""Replay a realistic week for many practices at the API and the workers, and report
throughput, error rate and queue lag.

    python -m bench.loadgen [--scale 0.01] [--concurrency 8]

Scale 1 is 1,000 practices with 10 clinicians and 250 clients each. Every client has one
session in the week: the practice's scheduling system books it and the next one (PUT) and
reports it held (POST complete); the survey email goes out; 60% of clients answer through the
link in it, and one answer in six of those is a dip, which raises an alert and a nudge email
to the clinician. The week is compressed: sessions are replayed in start order as fast as the
system takes them (8 scheduling systems and clients at once), surveys go out with no delay,
and nudges fall due at once (the practice's lead is set to its maximum, 14 days).

Processes: one `attune api`, `--workers` `attune worker` processes (`--threads` each), one
`attune scheduler`, on PostgreSQL and Redis; an aiosmtpd server in this process receives the
email.

Setup (not measured): the practices, their owners' sessions, API keys, clinicians, clients and
settings versions are written by this process before the week starts, through the domain
functions each API request calls (bench.seed.seed_practices: the same calls, principals, one
transaction per request, the application's role under row-level security), four practices at
a time and with the one password hash reused. The rows are the ones the API would have
written; only the HTTP around them is skipped, which took about 40 minutes at scale 0.1
(`--setup api` still does it that way). Nothing measured starts before the setup is done:
every figure comes from the week that follows, whose sessions, emails and answers all go
through the served processes.
"""

from __future__ import annotations

import argparse
import queue
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import create_engine, text

from bench.mail import Arrival, RecordingSink
from bench.seed import (
    GOOD_ANSWERS,
    LOW_ANSWERS,
    SeededClient,
    SeededPractice,
    seed_practices,
    set_up_practice,
)
from bench.support import (
    OWNER_URL,
    REDIS_URL,
    environment,
    free_port,
    fresh_database,
    machine_note,
    ms,
    percentile,
    production_database,
    served,
    table,
    wait_for_http,
)
from shared.clock import SystemClock

CLINICIANS, CLIENTS = 10, 250
SURVEY_LINK = re.compile(r'href="[^"]*(/s/[A-Za-z0-9_\-]+)"')


@dataclass
class Session:
    practice: SeededPractice
    client: SeededClient
    number: int
    starts_at: datetime

    @property
    def answers(self) -> bool:
        return self.number % 5 < 3  # 60% of clients answer

    @property
    def dips(self) -> bool:
        return self.answers and self.number % 6 == 0


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    completed_at: dict[str, float] = field(default_factory=dict)  # client email -> time
    answered_at: dict[tuple[str, str], float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, what: str, response: httpx.Response, began: float) -> None:
        with self.lock:
            self.latencies.append(time.perf_counter() - began)
            self.statuses[f"{what} {response.status_code}"] += 1

    @property
    def errors(self) -> int:
        return sum(n for key, n in self.statuses.items() if not key.endswith(" 200"))

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())


def _reference(client: SeededClient) -> str:
    return "RC-" + client.email.split("@")[0].removeprefix("client").zfill(5)


def _slug(address: str) -> str:
    return address.split("@")[1].split(".")[0]


def _book_and_complete(http: httpx.Client, session: Session, tally: Tally) -> None:
    headers = {"X-API-Key": session.practice.api_key}
    for suffix, starts in (
        ("next", session.starts_at + timedelta(days=7)),
        ("held", session.starts_at),
    ):
        began = time.perf_counter()
        booked = http.put(
            f"/api/v1/appointments/external/{session.client.id}-{suffix}",
            json={
                "client_id": str(session.client.id),
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=50)).isoformat(),
            },
            headers=headers,
        )
        tally.record("book", booked, began)
    began = time.perf_counter()
    done = http.post(
        f"/api/v1/appointments/external/{session.client.id}-held/complete", headers=headers
    )
    tally.record("complete", done, began)
    with tally.lock:
        tally.completed_at[session.client.email] = time.time()


def _answer(http: httpx.Client, session: Session, arrival: Arrival, tally: Tally) -> None:
    path = SURVEY_LINK.search(arrival.body("html"))
    if path is None:
        raise SystemExit("a survey email without a survey link")
    began = time.perf_counter()
    answered = http.post(path.group(1), data=LOW_ANSWERS if session.dips else GOOD_ANSWERS)
    tally.record("answer", answered, began)
    with tally.lock:
        tally.answered_at[(_slug(session.client.email), _reference(session.client))] = time.time()


Work = queue.Queue[tuple[str, Session, Arrival | None] | None]


def _drive(base: str, work: Work, tally: Tally, concurrency: int) -> list[threading.Thread]:
    def run() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                item = work.get()
                if item is None:
                    return
                kind, session, arrival = item
                if kind == "session":
                    _book_and_complete(http, session, tally)
                else:
                    _answer(http, session, arrival, tally)

    threads = [threading.Thread(target=run, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    return threads


@dataclass
class Lag:
    outbox_age: list[float] = field(default_factory=list)
    outbox_depth: list[int] = field(default_factory=list)
    broker_depth: list[int] = field(default_factory=list)


def _watch_lag(env: dict[str, str], lag: Lag, stop: threading.Event) -> None:
    engine = create_engine(OWNER_URL, isolation_level="AUTOCOMMIT")
    broker = RedisBroker(url=REDIS_URL, namespace=env["ATTUNE_REDIS_NAMESPACE"])
    with engine.connect() as connection:
        while not stop.wait(0.25):
            depth, oldest = connection.execute(
                text(
                    "SELECT count(*), min(created_at) FROM outbox_event WHERE published_at IS NULL"
                )
            ).one()
            lag.outbox_depth.append(depth)
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            lag.outbox_age.append((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)
            lag.broker_depth.append(broker.do_qsize("attune"))
    broker.close()
    engine.dispose()


# Where the time between a session and its emails went, from the rows' own times: each stage
# as (its length, when it began, the rows). The p95 of each quarter of the replay, in the order
# the stage began, shows whether a queue's lag stays bounded or grows as the week goes on.
STAGES = {
    "held -> invitation row (worker)": (
        "i.created_at - a.completed_at",
        "a.completed_at",
        "invitation i JOIN appointment a ON a.id = i.appointment_id",
    ),
    "invitation row -> sent (scheduler tick)": (
        "i.sent_at - i.created_at",
        "i.created_at",
        "invitation i WHERE i.sent_at IS NOT NULL",
    ),
    "answer -> evaluated (worker)": (
        "r.evaluated_at - r.submitted_at",
        "r.submitted_at",
        "response r WHERE r.evaluated_at IS NOT NULL",
    ),
    "email queued -> delivered (relay, worker)": (
        "n.sent_at - n.created_at",
        "n.created_at",
        "notification n WHERE n.sent_at IS NOT NULL",
    ),
}


def _stages() -> list[list[object]]:
    engine = create_engine(OWNER_URL)
    rows: list[list[object]] = []
    with engine.connect() as connection:
        for name, (interval, start, source) in STAGES.items():
            by_quarter = connection.execute(
                text(
                    f"WITH stage AS (SELECT extract(epoch FROM {interval}) AS seconds, "
                    f"ntile(4) OVER (ORDER BY {start}) AS quarter FROM {source}) "
                    "SELECT quarter, percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), "
                    "percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) FROM stage "
                    "GROUP BY ROLLUP (quarter) ORDER BY quarter NULLS FIRST"
                )
            ).all()
            if not by_quarter:
                rows.append([f"stage: {name}", "no rows", ""])
                continue
            (_, p50, p95), *quarters = by_quarter
            rows.append(
                [
                    f"stage: {name}",
                    f"{p50 * 1000:.0f} / {p95 * 1000:.0f} ms",
                    " / ".join(f"{q95 * 1000:.0f}" for _, _, q95 in quarters) + " ms",
                ]
            )
    engine.dispose()
    return rows


def _failures() -> list[list[object]]:
    """What the workers could not do: failed or unsent emails, recorded failed work."""
    engine = create_engine(OWNER_URL)
    with engine.connect() as connection:
        emails = connection.execute(
            text("SELECT status, count(*) FROM notification GROUP BY status ORDER BY status")
        ).all()
        failures = connection.execute(text("SELECT count(*) FROM work_failure")).scalar_one()
    engine.dispose()
    return [
        ["emails by final status", ", ".join(f"{status} {count:,}" for status, count in emails)],
        ["worker errors (work_failure rows)", failures],
    ]


def _all_running(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    ended = [name for name, process in processes.items() if process.poll() is not None]
    if ended:
        raise SystemExit(f"{', '.join(ended)} ended early: see var/bench/<name>.log")


def _set_up(base: str, practices: int, *, through_api: bool) -> list[SeededPractice]:
    slugs = [f"p{n}" for n in range(practices)]
    lead_hours = 14 * 24  # nudges fall due at once (see the docstring)
    if through_api:
        with httpx.Client(base_url=base, timeout=60) as http:
            return [
                set_up_practice(
                    http, slug, clinicians=CLINICIANS, clients=CLIENTS, lead_hours=lead_hours
                )
                for slug in slugs
            ]
    db = production_database()
    try:
        return seed_practices(
            db,
            SystemClock(),
            slugs,
            clinicians=CLINICIANS,
            clients=CLIENTS,
            lead_hours=lead_hours,
        )
    finally:
        db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker process")
    parser.add_argument(
        "--setup",
        choices=("direct", "api"),
        default="direct",
        help="write the practices in-process (default) or through HTTP requests to the API",
    )
    args = parser.parse_args()
    practices = max(1, round(1000 * args.scale))
    print(
        f"load generator: {practices} practices x {CLINICIANS} clinicians x {CLIENTS} clients"
        f" (scale {args.scale}); {args.workers} worker process(es) x {args.threads} threads;"
        f" {machine_note()}"
    )

    fresh_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with RecordingSink() as sink:
        env = environment(
            ATTUNE_SMTP_PORT=str(sink.port),
            ATTUNE_BASE_URL=base,
            ATTUNE_SCHEDULER_INTERVAL_SECONDS="0.5",
        )
        # Each worker and the scheduler on an operations port of its own: on the default one
        # (9101) a second worker process exits at once, and the replay runs with one.
        scheduler = ["-m", "services.cli", "scheduler", "--ops-port", str(free_port())]
        with (
            served(["-m", "services.cli", "api", "--port", str(port)], env, "loadgen-api") as api,
            ExitStack() as workers,
            served(scheduler, env, "loadgen-scheduler") as ticking,
        ):
            running = {"loadgen-api": api, "loadgen-scheduler": ticking}
            for number in range(args.workers):
                worker = ["-m", "services.cli", "worker", "--threads", str(args.threads)]
                running[f"loadgen-worker-{number}"] = workers.enter_context(
                    served(
                        [*worker, "--ops-port", str(free_port())], env, f"loadgen-worker-{number}"
                    )
                )
            wait_for_http(base)
            _all_running(running)
            began = time.perf_counter()
            seeded = _set_up(base, practices, through_api=args.setup == "api")
            setup_seconds = time.perf_counter() - began

            # Every session of the week is over; every next one is still ahead.
            week_start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=7, hours=-1)
            sessions = sorted(
                (
                    Session(
                        practice,
                        client,
                        number,
                        week_start + timedelta(minutes=(number * 37) % (5 * 24 * 60)),
                    )
                    for practice in seeded
                    for number, client in enumerate(practice.clients)
                ),
                key=lambda s: s.starts_at,
            )
            by_email = {s.client.email: s for s in sessions}
            tally, lag, stop = Tally(), Lag(), threading.Event()
            work: Work = queue.Queue()
            watcher = threading.Thread(target=_watch_lag, args=(env, lag, stop), daemon=True)
            watcher.start()
            began = time.perf_counter()
            threads = _drive(base, work, tally, args.concurrency)
            for session in sessions:
                work.put(("session", session, None))

            surveys_seen: set[str] = set()
            expected_answers = sum(s.answers for s in sessions)
            expected_nudges = sum(s.dips for s in sessions)
            expected_mail = len(sessions) + expected_nudges
            deadline = time.monotonic() + 600 + len(sessions)
            report_at = time.monotonic() + 10
            while (
                sink.count() < expected_mail
                or tally.requests < 3 * len(sessions) + expected_answers
            ):
                if time.monotonic() > deadline:
                    raise SystemExit("the replay did not finish in time (see var/bench)")
                for arrival in sink.snapshot():
                    recipient = arrival.recipients[0]
                    if recipient in by_email and recipient not in surveys_seen:
                        surveys_seen.add(recipient)
                        if by_email[recipient].answers:
                            work.put(("answer", by_email[recipient], arrival))
                if time.monotonic() > report_at:
                    report_at += 10
                    print(
                        f"  ... {tally.requests:,} requests, {sink.count():,} emails",
                        file=sys.stderr,
                    )
                time.sleep(0.05)
            week_seconds = time.perf_counter() - began
            _all_running(running)  # a process lost on the way would change what was measured
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()
            # Anything more would be a duplicate: give it a moment to show itself.
            time.sleep(2)
            stop.set()
            watcher.join()

    arrivals = sink.snapshot()
    survey_lag, nudge_lag = [], []
    message_ids = Counter()
    for arrival in arrivals:
        message_ids[str(arrival.message()["Message-ID"])] += 1
        recipient = arrival.recipients[0]
        if recipient in tally.completed_at:
            survey_lag.append(arrival.at - tally.completed_at[recipient])
        else:
            reference = re.search(r"RC-\d{5}", arrival.body("plain"))
            key = (_slug(recipient), reference.group(0) if reference else "")
            if key in tally.answered_at:
                nudge_lag.append(arrival.at - tally.answered_at[key])
    duplicates = sum(n - 1 for n in message_ids.values() if n > 1)
    surveys = sum(1 for a in arrivals if a.recipients[0] in by_email)
    table(
        f"Load generator: a week for {practices} practices ({len(sessions):,} sessions), "
        f"setup ({args.setup}) took {setup_seconds:.0f} s",
        ["figure", "value"],
        [
            ["API requests in the week", f"{tally.requests:,}"],
            ["errors (non-200 answers)", f"{tally.errors} ({tally.errors / tally.requests:.2%})"],
            ["week replayed in", f"{week_seconds:.1f} s"],
            ["API throughput", f"{tally.requests / week_seconds:.0f} req/s"],
            [
                "API latency p50 / p99",
                f"{ms(percentile(tally.latencies, 0.5))} / "
                f"{ms(percentile(tally.latencies, 0.99))} ms",
            ],
            ["survey emails (expected)", f"{surveys:,} ({len(sessions):,})"],
            ["nudge emails (expected)", f"{len(arrivals) - surveys:,} ({expected_nudges:,})"],
            ["duplicate emails (same Message-ID)", duplicates],
            [
                "session held -> survey email p50 / p95 / max",
                f"{ms(percentile(survey_lag, 0.5))} / {ms(percentile(survey_lag, 0.95))} / "
                f"{ms(max(survey_lag, default=0))} ms",
            ],
            [
                "answer -> nudge email p50 / p95 / max",
                f"{ms(percentile(nudge_lag, 0.5))} / {ms(percentile(nudge_lag, 0.95))} / "
                f"{ms(max(nudge_lag, default=0))} ms",
            ],
            [
                "outbox: most unpublished / oldest",
                f"{max(lag.outbox_depth, default=0)} / {max(lag.outbox_age, default=0):.2f} s",
            ],
            ["broker queue: deepest", max(lag.broker_depth, default=0)],
            *_failures(),
        ],
    )
    table(
        "Queue lag per stage (p95 of each quarter of the replay: bounded if it does not grow)",
        ["stage", "p50 / p95", "p95 by quarter"],
        _stages(),
    )
    for key, count in sorted(tally.statuses.items()):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    main()
