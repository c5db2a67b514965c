"""Run `attune` commands as real processes, and wait on what they do, bounded."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.privacy.encryption import derived_key
from shared.settings import Settings

ATTUNE = [sys.executable, "-m", "services.cli"]
REPO = Path(__file__).resolve().parents[2]


def environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(
        ATTUNE_DATABASE_URL=settings.database_url,
        ATTUNE_SMTP_HOST=settings.smtp_host,
        ATTUNE_SMTP_PORT=str(settings.smtp_port),
        ATTUNE_SCHEDULER_INTERVAL_SECONDS="0.2",
        ATTUNE_LOG_LEVEL="WARNING",
        # What production mode demands (shared/settings.py, production_problems): the same
        # secret and comment key as the test's own stack, on a loopback-only network.
        ATTUNE_SECRET_KEY=settings.secret_key,
        ATTUNE_COMMENT_KEYS=settings.comment_keys or derived_key(settings.secret_key),
        ATTUNE_PRIVATE_NETWORK="true",
        **extra,
    )
    if settings.system_database_url:
        env["ATTUNE_SYSTEM_DATABASE_URL"] = settings.system_database_url
    if settings.redis_url:
        env["ATTUNE_REDIS_URL"] = settings.redis_url
        env["ATTUNE_REDIS_NAMESPACE"] = f"attune-processes-{os.getpid()}"
    return env


def start(command: list[str], env: dict[str, str], logs: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ATTUNE + command,
        env=env,
        cwd=REPO,
        stdout=(logs / f"{command[0]}-{len(list(logs.glob('*.log')))}.log").open("w"),
        stderr=subprocess.STDOUT,
    )


def end(running: list[subprocess.Popen[bytes]]) -> None:
    for process in running:
        if process.poll() is None:
            process.terminate()
    for process in running:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def processes(commands: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    running = [start(command, env, logs) for command in commands]
    try:
        yield
    finally:
        end(running)


def logs_of(directory: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(directory.glob("*.log")))


def poll(check: Callable[[], object], *, seconds: float) -> bool:
    """Wait for other processes or threads to act, bounded; returns whether `check` came
    true. This waits on an outcome, never on a schedule."""
    pause = threading.Event()
    for _ in range(max(1, int(seconds / 0.05))):
        if check():
            return True
        pause.wait(0.05)
    return bool(check())
