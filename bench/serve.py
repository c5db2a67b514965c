"""`attune serve` (one process, SQLite) beside the production mode (attune api, worker and
scheduler on PostgreSQL and Redis), on the same machine, in the same run.

    python -m bench.serve [--answers 1500] [--concurrency 8] [--emails 600]
                          [--week 5x125 10x250] [--modes serve production]

Three measures for each mode:
- survey answers per second through POST /s/{token} (the process also evaluates each
  answer: in `attune serve` that work shares the same process and the same file);
- emails per second: survey invitations queued in the database, relayed by the scheduler,
  rendered and delivered by the workers (2 threads in both modes) to a local SMTP server;
- a week of one practice replayed as fast as it goes: C clinicians x N clients, each client
  one session (booked with next week's, then completed), each survey answered from the link
  in its email, one in ten a dip whose nudge is due at once; wall time, request latency,
  session -> survey email lag, and every email counted once.
Production needs ATTUNE_BENCH_DATABASE_URL and ATTUNE_BENCH_REDIS_URL (bench/support.py);
`--modes serve` runs without them.
"""

from __future__ import annotations

import argparse
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.email_rate import _queue_surveys
from bench.mail import RecordingSink
from bench.seed import GOOD_ANSWERS, LOW_ANSWERS, SeededPractice, open_surveys, set_up_practice
from bench.support import (
    LOGS,
    UNFILLED_RATE_LIMITS,
    LoadResult,
    cpu_seconds,
    environment,
    free_port,
    fresh_database,
    machine_note,
    ms,
    percentile,
    production_database,
    run_load,
    served,
    table,
    wait_for_http,
    wait_until,
)
from shared.db import Database, create_database

SURVEY_LINK = re.compile(r'href="https?://[^/"]+(/s/[^"?]+)"')
SERVE_DATABASE = LOGS / "serve.db"


@dataclass
class Mode:
    name: str
    base_url: str
    sink: RecordingSink
    pids: list[int]
    database: Callable[[], Database]

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)


def _common(port: int, sink: RecordingSink) -> dict[str, str]:
    return {
        "ATTUNE_SMTP_PORT": str(sink.port),
        "ATTUNE_BASE_URL": f"http://127.0.0.1:{port}",
        "ATTUNE_SCHEDULER_INTERVAL_SECONDS": "0.5",
        "ATTUNE_RATE_LIMITS": UNFILLED_RATE_LIMITS,
        "ATTUNE_LOG_LEVEL": "WARNING",
        "ATTUNE_SECRET_KEY": "bench-secret-" + "z" * 40,
    }


@contextmanager
def serve_mode(sink: RecordingSink) -> Iterator[Mode]:
    for suffix in ("", "-wal", "-shm"):
        SERVE_DATABASE.with_name(SERVE_DATABASE.name + suffix).unlink(missing_ok=True)
    SERVE_DATABASE.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"sqlite:///{SERVE_DATABASE}"
    env = {k: v for k, v in environment().items() if not k.startswith("ATTUNE_")}
    env.update(_common(port, sink), ATTUNE_DATABASE_URL=url)
    with served(["-m", "services.cli", "serve", "--port", str(port)], env, "serve") as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base)
        yield Mode("attune serve (SQLite)", base, sink, [process.pid], lambda: create_database(url))


@contextmanager
def production_mode(sink: RecordingSink) -> Iterator[Mode]:
    fresh_database()
    port = free_port()
    env = environment(**_common(port, sink))
    with (
        served(["-m", "services.cli", "api", "--port", str(port)], env, "prod-api") as api,
        served(["-m", "services.cli", "worker", "--threads", "2"], env, "prod-worker") as worker,
        served(["-m", "services.cli", "scheduler"], env, "prod-scheduler") as scheduler,
    ):
        base = f"http://127.0.0.1:{port}"
        wait_for_http(base)
        yield Mode(
            "production (PostgreSQL, Redis, 3 processes)",
            base,
            sink,
            [api.pid, worker.pid, scheduler.pid],
            production_database,
        )


def answers_per_second(mode: Mode, total: int, concurrency: int) -> list[object]:
    clients = 100
    with httpx.Client(base_url=mode.base_url, timeout=60) as http:
        practice = set_up_practice(http, "answers", clinicians=5, clients=clients)
    db = mode.database()
    warmup = 100
    tokens = iter(open_surveys(db, practice, -(-(total + warmup) // clients), now=_now()))
    db.dispose()

    def answer(client: httpx.Client, _: int) -> httpx.Response:
        return client.post(f"/s/{next(tokens)}", data=LOW_ANSWERS)

    run_load(mode.base_url, answer, total=warmup, concurrency=concurrency)
    before = mode.cpu()
    result: LoadResult = run_load(mode.base_url, answer, total=total, concurrency=concurrency)
    cpu = mode.cpu() - before
    return [
        mode.name,
        len(result.latencies),
        result.errors,
        f"{result.rate:.0f}",
        ms(percentile(result.latencies, 0.5)),
        ms(percentile(result.latencies, 0.99)),
        ms(cpu / max(1, len(result.latencies))),
    ]


def emails_per_second(mode: Mode, emails: int) -> list[object]:
    clients = 100
    with httpx.Client(base_url=mode.base_url, timeout=60) as http:
        practice = set_up_practice(http, "emails", clinicians=5, clients=clients, immediate=False)
    mode.sink.clear()
    db = mode.database()
    began = time.perf_counter()
    queued = _queue_surveys(db, practice, -(-emails // clients))
    db.dispose()
    wait_until(lambda: mode.sink.count() >= queued, seconds=900, what="every email")
    seconds = time.perf_counter() - began
    return [mode.name, queued, f"{queued / seconds:.0f}"]


def _now() -> datetime:
    return datetime.now(UTC)


def _complete(http: httpx.Client, practice: SeededPractice, index: int) -> None:
    client = practice.clients[index]
    headers = {"X-API-Key": practice.api_key}
    held = _now() - timedelta(hours=1)
    for suffix, starts in (("next", held + timedelta(days=7)), ("held", held)):
        booked = http.put(
            f"/api/v1/appointments/external/{client.id}-{suffix}",
            json={
                "client_id": str(client.id),
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=50)).isoformat(),
            },
            headers=headers,
        )
        if booked.status_code != 200:
            raise SystemExit(f"booking failed: {booked.status_code} {booked.text[:200]}")
    done = http.post(f"/api/v1/appointments/external/{client.id}-held/complete", headers=headers)
    if done.status_code != 200:
        raise SystemExit(f"completion failed: {done.status_code} {done.text[:200]}")


def _threads(work: list[Callable[[httpx.Client], None]], base: str, concurrency: int) -> float:
    lock = threading.Lock()
    pending = iter(work)

    def run() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while True:
                with lock:
                    job = next(pending, None)
                if job is None:
                    return
                job(http)

    began = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


def week_replay(mode: Mode, clinicians: int, clients: int, concurrency: int) -> list[object]:
    slug = f"week{clinicians}x{clients}"
    with httpx.Client(base_url=mode.base_url, timeout=60) as http:
        # Nudges due as soon as a dip is found: the lead time covers the week.
        practice = set_up_practice(
            http, slug, clinicians=clinicians, clients=clients, lead_hours=24 * 8
        )
    mode.sink.clear()
    completed: dict[str, float] = {}
    began = time.perf_counter()

    def complete(index: int) -> Callable[[httpx.Client], None]:
        def job(http: httpx.Client) -> None:
            _complete(http, practice, index)
            completed[practice.clients[index].email] = time.time()

        return job

    _threads([complete(i) for i in range(clients)], mode.base_url, concurrency)
    requests = 3 * clients
    emails = {client.email for client in practice.clients}
    wait_until(
        lambda: emails <= {r for a in mode.sink.snapshot() for r in a.recipients},
        seconds=900,
        what="every survey email",
    )
    surveys = {a.recipients[0]: a for a in mode.sink.snapshot() if a.recipients[0] in emails}
    lags = sorted(surveys[e].at - completed[e] for e in emails)
    dips = {client.email for number, client in enumerate(practice.clients) if number % 10 == 0}
    answering = [c.email for n, c in enumerate(practice.clients) if n % 10 < 7]

    def answer(address: str) -> Callable[[httpx.Client], None]:
        def job(http: httpx.Client) -> None:
            found = SURVEY_LINK.search(surveys[address].body("html"))
            assert found is not None
            form = LOW_ANSWERS if address in dips else GOOD_ANSWERS
            answered = http.post(found.group(1), data=form)
            if answered.status_code != 200:
                raise SystemExit(f"answer failed: {answered.status_code} {answered.text[:200]}")

        return job

    _threads([answer(address) for address in answering], mode.base_url, concurrency)
    requests += len(answering)
    expected = len(emails) + len(dips)
    wait_until(lambda: mode.sink.count() >= expected, seconds=900, what="every nudge")
    seconds = time.perf_counter() - began
    # Anything late or twice shows here: a short settle, then the count per recipient.
    time.sleep(3)
    arrivals = mode.sink.snapshot()
    # The same email twice carries the same Message-ID (a clinician may get several nudges).
    per_message = Counter(str(a.message()["Message-ID"]) for a in arrivals)
    repeated = sum(count - 1 for count in per_message.values() if count > 1)
    nudges = sum(1 for a in arrivals if a.recipients[0] not in emails)
    return [
        mode.name,
        f"{clinicians} x {clients}",
        f"{seconds:.1f}",
        requests,
        f"{len(arrivals) - nudges}/{nudges}",
        repeated,
        f"{percentile(lags, 0.5):.2f}",
        f"{percentile(lags, 0.95):.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--emails", type=int, default=600)
    parser.add_argument("--week", nargs="+", default=["5x125", "10x250"])
    parser.add_argument("--modes", nargs="+", default=["serve", "production"])
    args = parser.parse_args()
    print(f"attune serve beside production; {machine_note()}")
    sizes = [tuple(int(n) for n in size.split("x")) for size in args.week]
    answers, emails, weeks = [], [], []
    starts = {"serve": serve_mode, "production": production_mode}
    for name in args.modes:
        with RecordingSink() as sink, starts[name](sink) as mode:
            answers.append(answers_per_second(mode, args.answers, args.concurrency))
            emails.append(emails_per_second(mode, args.emails))
            for clinicians, clients in sizes:
                weeks.append(week_replay(mode, clinicians, clients, args.concurrency))
    table(
        f"Survey answers, POST /s/{{token}}, {args.concurrency} concurrent clients",
        ["mode", "answers", "errors", "per second", "p50 ms", "p99 ms", "CPU ms/answer"],
        answers,
    )
    table(
        "Survey emails queued, relayed, rendered and delivered (2 worker threads)",
        ["mode", "emails", "per second"],
        emails,
    )
    table(
        "A week of one practice, replayed as fast as it goes "
        f"({args.concurrency} concurrent clients)",
        [
            "mode",
            "clinicians x clients",
            "seconds",
            "requests",
            "surveys/nudges",
            "repeated",
            "lag p50 s",
            "lag p95 s",
        ],
        weeks,
    )
    print(f"\nlogs in {Path(LOGS)}; 1-min load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
