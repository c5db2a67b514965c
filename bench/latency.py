"""Time from a submitted answer to its alert row, and to the clinician's nudge email, with the
Redis broker and one worker process; beside the raw limit, a dramatiq actor on the same broker
doing one INSERT.

    python -m bench.latency [--samples 100] [--tick 0.25]

Answers go one at a time (latency, not throughput). Each client's next session is two hours
away, inside the 24-hour lead, so its nudge falls due at once and the scheduler's next tick
sends it: the email's figure includes waiting for that tick (--tick seconds apart).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import create_engine, text

from bench.mail import RecordingSink
from bench.seed import LOW_ANSWERS, book_upcoming, open_surveys, set_up_practice
from bench.support import (
    OWNER_URL,
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
    wait_until,
)

POLL = 0.002


def _wait_for(check: Callable[[], bool], seconds: float = 30.0) -> float:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return time.time()
        time.sleep(POLL)
    raise SystemExit("a sample did not finish in 30 s (see var/bench/*.log)")


def _row(name: str, samples: list[float], limit: list[float] | None) -> list[object]:
    ratio = f"{percentile(samples, 0.5) / percentile(limit, 0.5):.1f}x" if limit else ""
    return [name, len(samples), ms(percentile(samples, 0.5)), ms(percentile(samples, 0.95)), ratio]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--tick", type=float, default=0.25)
    args = parser.parse_args()
    print(f"answer to alert and nudge; {machine_note()}")

    fresh_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with RecordingSink() as sink:
        env = environment(
            ATTUNE_SMTP_PORT=str(sink.port),
            ATTUNE_SCHEDULER_INTERVAL_SECONDS=str(args.tick),
            ATTUNE_BASE_URL=base,
        )
        os.environ.update(
            ATTUNE_REDIS_URL=env["ATTUNE_REDIS_URL"],
            ATTUNE_REDIS_NAMESPACE=env["ATTUNE_REDIS_NAMESPACE"],
            ATTUNE_DATABASE_URL=OWNER_URL,
        )
        from bench.raw_actor import touch

        with (
            served(["-m", "services.cli", "api", "--port", str(port)], env, "api"),
            served(["-m", "services.cli", "worker", "--threads", "2"], env, "worker"),
            served(["-m", "services.cli", "scheduler"], env, "scheduler"),
            served(
                ["-m", "dramatiq", "bench.raw_actor", "--processes", "1", "--threads", "1"],
                # The raw limit, on a table of its own without row-level security: the owner.
                {**env, "ATTUNE_DATABASE_URL": OWNER_URL},
                "raw-worker",
            ),
        ):
            wait_for_http(base)
            with httpx.Client(base_url=base, timeout=60) as http:
                practice = set_up_practice(http, "lat", clinicians=10, clients=args.samples)
            db = production_database()
            now = datetime.now(UTC)
            tokens = open_surveys(db, practice, 1, now=now)
            book_upcoming(db, practice, starts_at=now + timedelta(hours=2))
            db.dispose()
            # Looks for alerts of any practice, so it reads as the owner.
            probe = create_engine(OWNER_URL, isolation_level="AUTOCOMMIT")
            to_alert: list[float] = []
            to_email: list[float] = []
            raw: list[float] = []
            request: list[float] = []
            with probe.connect() as connection, httpx.Client(base_url=base, timeout=60) as http:
                connection.execute(
                    text("CREATE TABLE IF NOT EXISTS bench_touch (marker text PRIMARY KEY)")
                )

                def alert_for(client_id: object) -> bool:
                    return (
                        connection.execute(
                            text("SELECT 1 FROM alert WHERE client_id = :id"), {"id": client_id}
                        ).first()
                        is not None
                    )

                for number, (client, token) in enumerate(
                    zip(practice.clients, tokens, strict=True)
                ):
                    began = time.time()
                    answered = http.post(f"/s/{token}", data=LOW_ANSWERS)
                    request.append(time.time() - began)
                    if answered.status_code != 200:
                        raise SystemExit(f"answer refused: {answered.status_code}")
                    to_alert.append(_wait_for(lambda c=client.id: alert_for(c)) - began)
                    _wait_for(lambda n=number: sink.count() > n)
                    to_email.append(sink.snapshot()[number].at - began)

                for number in range(args.samples):
                    marker = f"m-{number}"
                    began = time.time()
                    touch.send(marker)
                    raw.append(
                        _wait_for(
                            lambda m=marker: (
                                connection.execute(
                                    text("SELECT 1 FROM bench_touch WHERE marker = :m"), {"m": m}
                                ).first()
                                is not None
                            )
                        )
                        - began
                    )
            probe.dispose()
            wait_until(lambda: sink.count() == args.samples, seconds=5, what="no extra email")

    references = {f"RC-{n:05d}" for n in range(args.samples)}
    seen = set()
    for arrival in sink.snapshot():
        plain = arrival.body("plain")
        seen |= {ref for ref in references if ref in plain}
    if seen != references or sink.count() != args.samples:
        raise SystemExit("nudge emails did not match the answers one to one")
    table(
        f"Answer to alert and to nudge email ({args.samples} answers, one at a time; "
        f"scheduler tick every {args.tick} s)",
        ["path", "samples", "p50 ms", "p95 ms", "p50 vs raw"],
        [
            _row("raw: enqueue -> actor INSERT visible", raw, None),
            _row("answer POST round trip (saved, event in outbox)", request, raw),
            _row("answer POST -> alert row visible", to_alert, raw),
            _row("answer POST -> nudge email at SMTP server", to_email, raw),
        ],
    )


if __name__ == "__main__":
    main()
