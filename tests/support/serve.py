"""`attune serve` as a real process on a SQLite file: start it, kill it, start it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.email.sink import free_port
from tests.support.practice import PracticeFixture
from tests.support.processes import ATTUNE, REPO, poll

SECRET = "serve-test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@dataclass
class ServeProcess:
    """One database file, one port; `start` and `stop`/`kill` as often as a test likes."""

    database: Path
    smtp_port: int
    logs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # More ATTUNE_ settings for every start (ATTUNE_METRICS_TOKEN, ...).
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
        env.update(
            ATTUNE_DATABASE_URL=f"sqlite:///{self.database}",
            ATTUNE_SECRET_KEY=SECRET,
            ATTUNE_SMTP_HOST="127.0.0.1",
            ATTUNE_SMTP_PORT=str(self.smtp_port),
            ATTUNE_BASE_URL=self.base_url,
            ATTUNE_SCHEDULER_INTERVAL_SECONDS="0.2",
            ATTUNE_LOG_LEVEL="INFO",
            # One test client answers many surveys from one address.
            ATTUNE_RATE_LIMITS=json.dumps({"survey": [10_000, 60], "login": [1_000, 60]}),
            **self.settings,
            **extra,
        )
        return env

    def run(self, *command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Another `attune` command on the same database (backup, restore, practice)."""
        return subprocess.run(
            [*ATTUNE, *command],
            env=self.env(),
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        self.starts += 1
        log = (self.logs / f"serve-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [*ATTUNE, "serve", "--port", str(self.port)],
            env=self.env(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def up() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                return True
            try:
                return httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        assert poll(up, seconds=180), self.log_text()
        assert self.process.poll() is None, self.log_text()

    def stop(self) -> int:
        """SIGTERM, as systemd or Ctrl-C would: a clean stop."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        assert self.process.wait(timeout=10) == -signal.SIGKILL

    def end(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log_text(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.logs.glob("serve-*.log")))

    def started_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_text().splitlines():
            if '"serve.started"' in line:
                lines.append(json.loads(line))
        return lines


@contextmanager
def serving_process(
    database: Path, smtp_port: int, logs: Path, **settings: str
) -> Iterator[ServeProcess]:
    logs.mkdir(parents=True, exist_ok=True)
    server = ServeProcess(database=database, smtp_port=smtp_port, logs=logs, settings=settings)
    server.start()
    try:
        yield server
    finally:
        server.end()


def practice_from_the_shell(
    server: ServeProcess, http: httpx.Client, *, slug: str = "solo", clients: int = 1
) -> tuple[PracticeFixture, list[dict[str, Any]]]:
    """`attune practice create`, then a clinician, clients and an API key through the API,
    with surveys going out at once (no delay, no quiet hours). Returns the practice and
    every client (the first is practice.client)."""
    created = server.run(
        "practice",
        "create",
        "--name",
        "Solo Practice",
        "--owner-name",
        "Olive Owner",
        "--owner-email",
        f"owner@{slug}.example.com",
        "--timezone",
        "Europe/London",
        stdin=PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stderr
    logged_in = http.post(
        "/api/v1/auth/login", json={"email": f"owner@{slug}.example.com", "password": PASSWORD}
    )
    assert logged_in.status_code == 200, logged_in.text
    as_owner = {"Authorization": f"Bearer {logged_in.json()['token']}"}
    added = http.post(
        "/api/v1/clinicians",
        json={
            "email": f"casey@{slug}.example.com",
            "name": "Casey Clinician",
            "timezone": "Europe/London",
            "password": "another long secret",
        },
        headers=as_owner,
    )
    assert added.status_code == 201, added.text
    clinician_login = http.post(
        "/api/v1/auth/login",
        json={"email": f"casey@{slug}.example.com", "password": "another long secret"},
    )
    assert clinician_login.status_code == 200, clinician_login.text
    made = []
    for number in range(clients):
        client = http.post(
            "/api/v1/clients",
            json={
                "email": f"client{number}@{slug}.example.com",
                "reference": f"RC-{1000 + number}",
                "timezone": "Europe/London",
                "clinician_id": added.json()["id"],
            },
            headers=as_owner,
        )
        assert client.status_code == 201, client.text
        made.append(client.json())
    key = http.post("/api/v1/api-keys", json={"name": "scheduler"}, headers=as_owner)
    assert key.status_code == 201, key.text
    body = http.get("/api/v1/settings", headers=as_owner).json()["settings"]
    body["timing"]["survey_delay_minutes"] = 0
    body["timing"]["quiet_hours"] = None
    updated = http.put("/api/v1/settings", json=body, headers=as_owner)
    assert updated.status_code == 200, updated.text
    practice = PracticeFixture(
        http=http,
        practice_id=logged_in.json()["account"]["practice_id"],
        owner={
            "token": logged_in.json()["token"],
            "id": logged_in.json()["account"]["id"],
            "email": f"owner@{slug}.example.com",
        },
        clinician={
            "token": clinician_login.json()["token"],
            "id": added.json()["id"],
            "email": f"casey@{slug}.example.com",
        },
        client=made[0],
        api_key=key.json()["key"],
    )
    return practice, made


def book_and_complete(
    practice: PracticeFixture,
    client: dict[str, Any],
    external_id: str,
    starts: datetime | None = None,
) -> None:
    """A session that ended a few minutes ago (or at `starts` + 50 minutes), as the
    scheduling system reports it; sending the same again changes nothing."""
    starts = starts or datetime.now(UTC) - timedelta(hours=1)
    booked = practice.http.put(
        f"/api/v1/appointments/external/{external_id}",
        json={
            "client_id": client["id"],
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=50)).isoformat(),
        },
        headers=practice.as_scheduler(),
    )
    assert booked.status_code == 200, booked.text
    practice.complete(external_id)
