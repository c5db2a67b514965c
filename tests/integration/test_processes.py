"""Production mode: `attune api`, `attune worker` and `attune scheduler` as separate processes.

Embedded runs check that the multi-process commands refuse clearly without Redis; the
PostgreSQL + Redis run starts the three real processes and sends a survey through them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from shared.db import Database
from shared.email.sink import MailSink, free_port
from shared.settings import Settings

ATTUNE = [sys.executable, "-m", "services.cli"]


def _environment(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(
        ATTUNE_DATABASE_URL=settings.database_url,
        ATTUNE_SMTP_HOST=settings.smtp_host,
        ATTUNE_SMTP_PORT=str(settings.smtp_port),
        ATTUNE_SCHEDULER_INTERVAL_SECONDS="0.2",
        ATTUNE_LOG_LEVEL="WARNING",
        **extra,
    )
    if settings.system_database_url:
        env["ATTUNE_SYSTEM_DATABASE_URL"] = settings.system_database_url
    if settings.redis_url:
        env["ATTUNE_REDIS_URL"] = settings.redis_url
        env["ATTUNE_REDIS_NAMESPACE"] = f"attune-processes-{os.getpid()}"
    return env


@contextmanager
def _processes(commands: list[list[str]], env: dict[str, str], logs: Path) -> Iterator[None]:
    running = [
        subprocess.Popen(
            ATTUNE + command,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
            stdout=(logs / f"{command[0]}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for command in commands
    ]
    try:
        yield
    finally:
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _poll(check: object, *, seconds: float) -> bool:
    """Wait for other processes to act, bounded; returns whether `check` came true."""
    pause = threading.Event()
    for _ in range(int(seconds / 0.1)):
        if check():  # type: ignore[operator]
            return True
        pause.wait(0.1)
    return False


def test_multi_process_commands(
    settings: Settings, db: Database, sink: MailSink, tmp_path: Path
) -> None:
    if not settings.redis_url:
        refused = subprocess.run(
            [*ATTUNE, "worker"], env=_environment(settings), capture_output=True, text=True
        )
        assert refused.returncode != 0
        assert "ATTUNE_REDIS_URL" in refused.stderr
        return

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _environment(settings, ATTUNE_BASE_URL=base)
    commands = [["api", "--port", str(port)], ["worker", "--threads", "2"], ["scheduler"]]
    with _processes(commands, env, tmp_path), httpx.Client(base_url=base, timeout=10) as http:

        def api_up() -> bool:
            try:
                return http.get("/health").status_code == 200
            except httpx.TransportError:
                return False

        assert _poll(api_up, seconds=30), (tmp_path / "api.log").read_text()
        from tests.support.practice import create_practice

        practice = create_practice(http, slug="processes")
        settings_body = http.get("/api/v1/settings", headers=practice.as_owner()).json()
        body = settings_body["settings"]
        body["timing"]["survey_delay_minutes"] = 0
        body["timing"]["quiet_hours"] = None
        updated = http.put("/api/v1/settings", json=body, headers=practice.as_owner())
        assert updated.status_code == 200, updated.text
        now = datetime.now(UTC)
        practice.book("p-1", now - timedelta(hours=1))
        practice.complete("p-1")

        def survey_arrived() -> bool:
            return any(
                "robin.client@processes.example.com" in m.recipients for m in sink.list_messages()
            )

        arrived = _poll(survey_arrived, seconds=30)
        logs = "\n".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert arrived, logs
