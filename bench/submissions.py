"""Survey submissions per second and p50/p99 latency through the real API on PostgreSQL,
beside a bare Litestar endpoint doing one INSERT with the same driver.

    python -m bench.submissions [--requests 3000] [--concurrency 8] [--rounds 2]

The API runs as production does, as the application's role under row-level security; the
bare endpoint as the owner, on a table without it. Both are single uvicorn processes; load
comes from threads in this process. Rounds alternate between the two so that a noisy
neighbour on a shared machine hits both alike.

An answer's work does not end in the API: its event is published by a worker's relay (woken
by PostgreSQL at commit) and evaluated by that worker's actors. One `attune worker` runs
beside the API, as production does, and its CPU per answer is printed next to the API's:
counted from the round's start until the outbox is empty and the worker has gone quiet, so
it holds the relay and the evaluations of every answer of the round (not the scheduler's
later nudges; none runs here).

On a machine of two cores the worker's evaluations (several times the API's CPU per answer)
would take the cores the API and the bare endpoint are measured on; production runs workers
on cores of their own. So the worker is paused (SIGSTOP) while the API's round runs and
resumed after it, and its CPU is counted until it has caught up. `--worker-alongside` keeps it
running through the round instead. Paused, the relay publishes each round's events in large
batches, its cheapest case (`bench.relay` prints the one-event-per-pass cost).
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bench.seed import LOW_ANSWERS, open_surveys, set_up_practice
from bench.support import (
    OWNER_URL,
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
)
from shared.db import Database
from shared.outbox import unpublished_count


def _row(
    name: str,
    result: LoadResult,
    reference: LoadResult | None,
    cpu: float,
    worker_cpu: float | None = None,
) -> list[object]:
    share = f"{result.rate / reference.rate:.0%}" if reference else ""
    answers = max(1, len(result.latencies))
    return [
        name,
        len(result.latencies),
        result.errors,
        f"{result.rate:.0f}",
        ms(percentile(result.latencies, 0.5)),
        ms(percentile(result.latencies, 0.99)),
        ms(cpu / answers),
        ms(worker_cpu / answers) if worker_cpu is not None else "",
        share,
    ]


def _measured(pid: int, load: Callable[[], LoadResult]) -> tuple[LoadResult, float]:
    """The load's result and the CPU seconds the server process spent serving it."""
    before = cpu_seconds(pid)
    result = load()
    return result, cpu_seconds(pid) - before


def _quiet(pid: int, db: Database) -> None:
    """Wait until every event is published and the worker has stopped spending CPU (its
    queue is empty): at most four minutes, then the figure says what was spent by then."""
    deadline = time.monotonic() + 240
    while unpublished_count(db) and time.monotonic() < deadline:
        time.sleep(0.1)
    spent = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - spent < 0.02:
            return
        spent = now


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--worker-alongside",
        action="store_true",
        help="keep the worker running during the API's rounds (it shares the cores)",
    )
    args = parser.parse_args()
    print(f"survey submissions; {machine_note()}")

    fresh_database()
    api_port, bare_port = free_port(), free_port()
    env = environment()
    api_url, bare_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{bare_port}"
    with (
        served(["-m", "services.cli", "api", "--port", str(api_port)], env, "api") as api,
        served(
            [
                "-m",
                "uvicorn",
                "bench.bare_app:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            # The raw limit: Litestar, the driver and the pool, without Attune's rules,
            # row-level security among them; it creates its own table, so it runs as the owner.
            environment(ATTUNE_DATABASE_URL=OWNER_URL),
            "bare",
        ) as bare_server,
        # The relay (and the answers' evaluations) run here, not in the API (README, Outbox).
        served(
            ["-m", "services.cli", "worker", "--threads", "2", "--ops-port", "0"], env, "worker"
        ) as worker,
    ):
        wait_for_http(api_url)
        wait_for_http(bare_url)
        clients = 250
        warmup = 200
        needed = warmup + args.rounds * args.requests
        with httpx.Client(base_url=api_url, timeout=60) as http:
            practice = set_up_practice(http, "subs", clinicians=10, clients=clients)
        db = production_database()
        tokens = open_surveys(db, practice, -(-needed // clients), now=datetime.now(UTC))
        used = iter(tokens)

        def answer(client: httpx.Client, _: int) -> httpx.Response:
            return client.post(f"/s/{next(used)}", data=LOW_ANSWERS)

        def insert(client: httpx.Client, _: int) -> httpx.Response:
            return client.post("/insert", data=LOW_ANSWERS)

        run_load(api_url, answer, total=warmup, concurrency=args.concurrency)
        run_load(bare_url, insert, total=warmup, concurrency=args.concurrency)
        _quiet(worker.pid, db)
        rows: list[list[object]] = []
        for round_ in range(1, args.rounds + 1):
            bare, bare_cpu = _measured(
                bare_server.pid,
                lambda: run_load(
                    bare_url, insert, total=args.requests, concurrency=args.concurrency
                ),
            )
            worker_before = cpu_seconds(worker.pid)
            if not args.worker_alongside:
                os.kill(worker.pid, signal.SIGSTOP)
            try:
                real, real_cpu = _measured(
                    api.pid,
                    lambda: run_load(
                        api_url, answer, total=args.requests, concurrency=args.concurrency
                    ),
                )
            finally:
                if not args.worker_alongside:
                    os.kill(worker.pid, signal.SIGCONT)
            _quiet(worker.pid, db)
            worker_cpu = cpu_seconds(worker.pid) - worker_before
            rows.append(_row(f"bare INSERT endpoint (round {round_})", bare, None, bare_cpu))
            rows.append(
                _row(
                    f"POST /s/{{token}} survey answer (round {round_})",
                    real,
                    bare,
                    real_cpu,
                    worker_cpu,
                )
            )
        db.dispose()
    table(
        f"Survey submissions, {args.concurrency} concurrent clients, PostgreSQL; "
        "worker: relay + evaluations, "
        + ("alongside the answers" if args.worker_alongside else "paused during the answers"),
        [
            "endpoint",
            "requests",
            "errors",
            "req/s",
            "p50 ms",
            "p99 ms",
            "CPU ms/req",
            "worker CPU ms/req",
            "of bare",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
