"""What every benchmark shares: the database it owns, served processes, load, and tables.

Benchmarks print figures; nothing here asserts a time. Each figure is printed beside its raw
limit, measured in the same run on the same machine.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import event
from sqlalchemy.engine import make_url

from shared.db import Database, create_database
from shared.db.migrations import upgrade
from shared.db.row_security import APP_ROLE, SYSTEM_ROLE
from shared.ratelimit import DEFAULT_LIMITS
from shared.settings import Settings
from tests.support.postgres import as_role, ensure_login_role, prepare_postgres

REPO = Path(__file__).resolve().parents[1]
DATABASE_URL = os.environ.get(
    "ATTUNE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/attune_bench"
)
REDIS_URL = os.environ.get("ATTUNE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
# As in production (README, "Database roles"): the URL given is the owner's and runs the
# migrations; the served processes and every Database a benchmark opens connect as the
# application's role, under forced row-level security, and find work across practices as the
# system role. Only reads that measure the whole database (counting rows of every practice)
# and the raw limits use the owner.
OWNER_URL = DATABASE_URL
APP_URL = as_role(DATABASE_URL, APP_ROLE)
SYSTEM_URL = as_role(DATABASE_URL, SYSTEM_ROLE)
# Every simulated client sends from 127.0.0.1, one address: the limiter still counts every
# request in Redis, as in production, but with windows no bench fills.
UNFILLED_RATE_LIMITS = json.dumps({bucket: [10**9, 60] for bucket in DEFAULT_LIMITS})
LOGS = REPO / "var" / "bench"
# Fixed keys, so every process of one run (and the bench itself) reads what another wrote.
BENCH_SECRET_KEY = "bench-secret-" + "z" * 40
BENCH_COMMENT_KEY = base64.urlsafe_b64encode(b"attune-bench-comment-key".ljust(32, b"-")).decode()


def fresh_database(url: str = OWNER_URL) -> str:
    """Create the benchmark database if needed, empty it, give the application's and the
    system role a login, and migrate it as the owner."""
    if make_url(url).get_backend_name() != "postgresql":
        raise SystemExit("benchmarks run on PostgreSQL: set ATTUNE_BENCH_DATABASE_URL")
    prepare_postgres(url)
    for role in (APP_ROLE, SYSTEM_ROLE):
        ensure_login_role(url, role)
    upgrade(url)
    return url


def production_database(**options: int) -> Database:
    """A Database connected the way the API and workers connect (see OWNER_URL)."""
    return create_database(APP_URL, system_url=SYSTEM_URL, **options)


def free_port() -> int:
    from shared.email.sink import free_port as pick

    return pick()


def environment(**extra: str) -> dict[str, str]:
    """A served process's environment: production's roles (see OWNER_URL), this run's Redis
    namespace, and `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(
        ATTUNE_DATABASE_URL=APP_URL,
        ATTUNE_SYSTEM_DATABASE_URL=SYSTEM_URL,
        ATTUNE_MIGRATION_DATABASE_URL=OWNER_URL,
        ATTUNE_REDIS_URL=REDIS_URL,
        ATTUNE_REDIS_NAMESPACE=f"attune-bench-{os.getpid()}",
        ATTUNE_RATE_LIMITS=UNFILLED_RATE_LIMITS,
        ATTUNE_LOG_LEVEL="WARNING",
        # Served processes refuse production mode without these (Settings.production_problems);
        # the links point at loopback, which is what ATTUNE_PRIVATE_NETWORK says.
        ATTUNE_SECRET_KEY=BENCH_SECRET_KEY,
        ATTUNE_COMMENT_KEYS=BENCH_COMMENT_KEY,
        ATTUNE_PRIVATE_NETWORK="true",
    )
    env.update(extra)
    return env


def in_process_settings(env: dict[str, str], smtp_port: int) -> Settings:
    """Settings for a stack built in this process (build_stack) that sees what the served
    processes of the same `environment` see: production's roles, this run's Redis namespace
    and the bench's SMTP server."""
    return Settings(
        database_url=APP_URL,
        system_database_url=SYSTEM_URL,
        redis_url=REDIS_URL,
        redis_namespace=env["ATTUNE_REDIS_NAMESPACE"],
        smtp_port=smtp_port,
    )


@contextmanager
def served(
    command: Sequence[str], env: dict[str, str], name: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A process for the length of the block; its output goes to var/bench/<name>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"{name}.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, *command], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(check: Callable[[], object], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"gave up waiting for {what} (see {LOGS})")


def wait_for_http(base_url: str, path: str = "/health") -> None:
    wait_until(
        lambda: httpx.get(base_url + path, timeout=2).status_code < 500,
        seconds=60,
        what=base_url,
    )


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def run_load(
    base_url: str,
    request: Callable[[httpx.Client, int], httpx.Response],
    *,
    total: int,
    concurrency: int,
    ok: int = 200,
) -> LoadResult:
    """`total` requests from `concurrency` threads, each with its own keep-alive client;
    request(client, n) sends the n-th one. Latency is per request, from send to answer."""
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                began = time.perf_counter()
                try:
                    answer = request(client, number)
                    good = answer.status_code == ok
                except httpx.HTTPError:
                    good = False
                elapsed = time.perf_counter() - began
                with lock:
                    if good:
                        result.latencies.append(elapsed)
                    else:
                        result.errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - began
    return result


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(fraction * 1000) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    line = "  ".join("-" * w for w in widths)
    print(line)
    for index, row in enumerate(cells):
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print(line)
    print(line)


def machine_note() -> str:
    cores = os.cpu_count()
    load = os.getloadavg()[0]
    return f"{cores} cores, 1-min load average {load:.1f} at the start (shared machine)"


@contextmanager
def counting_statements(db: Database) -> Iterator[list[int]]:
    """Counts the statements `db`'s engine sends while the block runs (counter[0])."""
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
