"""Survey submissions per second and p50/p99 latency through the real API on PostgreSQL,
beside a bare Litestar endpoint doing one INSERT with the same driver.

    python -m bench.submissions [--requests 3000] [--concurrency 8] [--rounds 2]

The API runs as production does, as the application's role under row-level security; the
bare endpoint as the owner, on a table without it. Both are single uvicorn processes; load
comes from threads in this process. Rounds alternate between the two so that a noisy
neighbour on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
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


def _row(name: str, result: LoadResult, reference: LoadResult | None, cpu: float) -> list[object]:
    share = f"{result.rate / reference.rate:.0%}" if reference else ""
    return [
        name,
        len(result.latencies),
        result.errors,
        f"{result.rate:.0f}",
        ms(percentile(result.latencies, 0.5)),
        ms(percentile(result.latencies, 0.99)),
        ms(cpu / max(1, len(result.latencies))),
        share,
    ]


def _measured(pid: int, load: Callable[[], LoadResult]) -> tuple[LoadResult, float]:
    """The load's result and the CPU seconds the server process spent serving it."""
    before = cpu_seconds(pid)
    result = load()
    return result, cpu_seconds(pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
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
        db.dispose()
        used = iter(tokens)

        def answer(client: httpx.Client, _: int) -> httpx.Response:
            return client.post(f"/s/{next(used)}", data=LOW_ANSWERS)

        def insert(client: httpx.Client, _: int) -> httpx.Response:
            return client.post("/insert", data=LOW_ANSWERS)

        run_load(api_url, answer, total=warmup, concurrency=args.concurrency)
        run_load(bare_url, insert, total=warmup, concurrency=args.concurrency)
        rows: list[list[object]] = []
        for round_ in range(1, args.rounds + 1):
            bare, bare_cpu = _measured(
                bare_server.pid,
                lambda: run_load(
                    bare_url, insert, total=args.requests, concurrency=args.concurrency
                ),
            )
            real, real_cpu = _measured(
                api.pid,
                lambda: run_load(
                    api_url, answer, total=args.requests, concurrency=args.concurrency
                ),
            )
            rows.append(_row(f"bare INSERT endpoint (round {round_})", bare, None, bare_cpu))
            rows.append(
                _row(f"POST /s/{{token}} survey answer (round {round_})", real, bare, real_cpu)
            )
    table(
        f"Survey submissions, {args.concurrency} concurrent clients, PostgreSQL",
        ["endpoint", "requests", "errors", "req/s", "p50 ms", "p99 ms", "CPU ms/req", "of bare"],
        rows,
    )


if __name__ == "__main__":
    main()
