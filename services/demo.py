"""`attune demo`: the embedded mode, with a practice that already has a few weeks of history.

Everything runs in one process: a fresh SQLite file (var/demo.db), dramatiq's in-process
StubBroker and a worker, the scheduler thread, the outbox relay, a local SMTP sink (var/mail)
and the API, which also shows the sink's mail at /dev/mail.

The history is made by the real loop, not written into tables: on a manual clock that starts
four weeks back, a scheduling system books and completes weekly sessions through the API,
the scheduler and the workers send the survey emails through SMTP to the sink, and each client
answers through the survey link in their email. Then the clock switches to real time and the
process serves until Ctrl-C (or SIGTERM).
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import UUID

import httpx
import uvicorn
from litestar.testing import TestClient
from sqlmodel import col, func, select

from services.bootstrap import Stack, build_stack, smtp_mailer
from services.worker.scheduler import tick
from shared.clock import ManualClock, SwitchableClock
from shared.email.sink import MailSink
from shared.logging import configure_logging
from shared.models import (
    Alert,
    Invitation,
    InvitationStatus,
    Nudge,
    NudgeStatus,
    Response,
)
from shared.settings import Settings

DEMO_DATABASE = Path("var/demo.db")
PASSWORD = "attune-demo-password"
PRACTICE_NAME = "Harbourview Counselling (demo)"
OWNER_EMAIL = "owner@example.com"
TIMEZONE = "Europe/London"
# A London practice's clients are told of a UK line, not the default's 988 (US).
CRISIS_LINE = (
    "If you are in crisis, call Samaritans free on 116 123, any time, or 999 in an emergency."
)
ITEMS = ("honest", "disagree", "respected", "input", "pace")
HISTORY = timedelta(days=28)
SESSION = timedelta(minutes=50)
ANSWERED_AFTER = timedelta(hours=3)  # when, after a session, its client answers the survey


@dataclass(frozen=True)
class Answer:
    scores: tuple[int, int, int, int, int]  # in the order of ITEMS
    talk: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class DemoClient:
    reference: str
    clinician: int  # index into CLINICIANS
    last_session_days_ago: int
    hour_utc: int
    answers: tuple[Answer | None, ...]  # one per past weekly session, oldest first; None: none

    @property
    def email(self) -> str:
        return f"client.{self.reference.lower().replace('-', '')}@example.com"


CLINICIANS = (("Sam Rivera", "sam.rivera@example.com"), ("Alex Morgan", "alex.morgan@example.com"))

# Synthetic people only. Mostly good sessions; RC-1002's third session dips (an alert, then a
# nudge to Sam before the fourth, which goes better); RC-1006 asks to talk about how therapy is
# going (an alert whose nudge waits for next week); RC-1004 has not answered yesterday's survey.
CLIENTS = (
    DemoClient(
        reference="RC-1001",
        clinician=0,
        last_session_days_ago=3,
        hour_utc=10,
        answers=(
            Answer((5, 5, 5, 4, 5)),
            Answer((5, 4, 5, 5, 5)),
            Answer((5, 5, 5, 5, 4)),
            Answer((5, 5, 4, 5, 5)),
        ),
    ),
    DemoClient(
        reference="RC-1002",
        clinician=0,
        last_session_days_ago=2,
        hour_utc=11,
        answers=(
            Answer((5, 5, 5, 5, 4)),
            Answer((5, 4, 5, 5, 5)),
            Answer((3, 3, 4, 4, 2), comment="It felt like we rushed past the hard part."),
            Answer((4, 5, 5, 4, 4)),
        ),
    ),
    DemoClient(
        reference="RC-1003",
        clinician=0,
        last_session_days_ago=1,
        hour_utc=14,
        answers=(
            Answer((4, 5, 4, 5, 5)),
            Answer((5, 5, 4, 5, 4)),
            Answer((5, 5, 5, 4, 5)),
            Answer((4, 5, 5, 5, 5)),
        ),
    ),
    DemoClient(
        reference="RC-1004",
        clinician=1,
        last_session_days_ago=1,
        hour_utc=10,
        answers=(
            Answer((5, 4, 5, 4, 4)),
            Answer((4, 5, 5, 4, 5)),
            Answer((5, 5, 5, 5, 4)),
            None,
        ),
    ),
    DemoClient(
        reference="RC-1005",
        clinician=1,
        last_session_days_ago=3,
        hour_utc=15,
        answers=(
            Answer((4, 4, 5, 4, 5)),
            Answer((5, 4, 5, 5, 4)),
            Answer((5, 5, 5, 4, 5)),
            Answer((5, 5, 5, 5, 5)),
        ),
    ),
    DemoClient(
        reference="RC-1006",
        clinician=1,
        last_session_days_ago=2,
        hour_utc=13,
        answers=(
            Answer((4, 5, 5, 4, 4)),
            Answer((5, 4, 4, 5, 5)),
            Answer((4, 5, 5, 5, 4)),
            Answer((5, 4, 5, 4, 5), talk=True, comment="Could we talk about how often we meet?"),
        ),
    ),
)
LIVE_CLIENT = "RC-1004"


@dataclass
class DemoSeed:
    """What seeding made, for the banner and for tests."""

    practice_id: str
    owner_email: str
    password: str
    clinician_emails: list[str]
    client_emails: dict[str, str]  # reference -> email
    live_survey_url: str
    sessions: int = 0
    answers: int = 0
    alerts: int = 0
    nudges_sent: int = 0
    nudges_pending: int = 0
    emails: int = 0
    client_ids: dict[str, str] = field(default_factory=dict)


# -- driving the loop -------------------------------------------------------------------------


def _tick(stack: Stack) -> None:
    stack.settle()
    tick(stack.db, stack.clock, stack.publisher)
    stack.settle()


def _next_due(stack: Stack) -> datetime | None:
    """The earliest moment the scheduler has something to do: an invitation to send, a nudge
    to send, an invitation to expire."""
    with stack.db.across_practices() as session:
        moments = [
            session.exec(
                select(Invitation.send_at)
                .where(Invitation.status == InvitationStatus.SCHEDULED)
                .order_by(col(Invitation.send_at))
                .limit(1)
            ).first(),
            session.exec(
                select(Nudge.due_at)
                .where(Nudge.status == NudgeStatus.PENDING)
                .order_by(col(Nudge.due_at))
                .limit(1)
            ).first(),
            session.exec(
                select(Invitation.expires_at)
                .where(Invitation.status == InvitationStatus.SENT)
                .order_by(col(Invitation.expires_at))
                .limit(1)
            ).first(),
        ]
    return min((m for m in moments if m is not None), default=None)


def advance_to(stack: Stack, clock: ManualClock, moment: datetime) -> None:
    """Move the clock to `moment`, stopping at every moment something falls due on the way
    and ticking there, as the scheduler would have."""
    for _ in range(10_000):
        due = _next_due(stack)
        if due is None or due > moment:
            break
        if due > clock.now():
            clock.set(due)
        _tick(stack)
    else:
        raise RuntimeError("the scheduler kept finding due work")
    if moment > clock.now():
        clock.set(moment)


# -- the practice, through the API ------------------------------------------------------------


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(
            f"demo seeding: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json() if "json" in response.headers.get("content-type", "") else None


def survey_link(sink: MailSink, address: str, base_url: str) -> str:
    """The survey link in the newest email the sink received for `address`."""
    for stored in sink.list_messages():
        if address not in stored.recipients:
            continue
        message = sink.get_message(stored.id)
        part = message.get_body(preferencelist=("html",)) if message is not None else None
        if part is None:
            continue
        for href in re.findall(r'href="([^"]+)"', part.get_content()):
            url = html.unescape(href)
            if url.startswith(f"{base_url}/s/") and "?" not in url:
                return url
    raise RuntimeError(f"no survey email reached {address}")


def _timeline(today: datetime) -> list[tuple[datetime, str, DemoClient, int]]:
    """(when, what, who, which session), in time order: completions and answers."""
    events: list[tuple[datetime, str, DemoClient, int]] = []
    for client in CLIENTS:
        weeks = len(client.answers)
        for week, answer in enumerate(client.answers):
            starts = _session_start(today, client, week - (weeks - 1))
            events.append((starts + SESSION, "complete", client, week))
            if answer is not None:
                events.append((starts + SESSION + ANSWERED_AFTER, "answer", client, week))
    return sorted(events, key=lambda event: (event[0], event[1], event[2].reference))


def _session_start(today: datetime, client: DemoClient, weeks_from_last: int) -> datetime:
    """The client's weekly slot; weeks_from_last 0 is the most recent past session."""
    last = today - timedelta(days=client.last_session_days_ago) + timedelta(hours=client.hour_utc)
    return last + timedelta(weeks=weeks_from_last)


def seed_demo(stack: Stack, clock: ManualClock, sink: MailSink, *, present: datetime) -> DemoSeed:
    """Give the database four weeks of a practice's life, ending at `present`.

    `clock` must be the stack's clock: this moves it from four weeks before `present` to
    `present`. Every step goes through the API, the outbox, the broker, the workers, the
    scheduler tick and SMTP, exactly as in production.
    """
    if stack.clock is not clock:
        raise ValueError("seed_demo moves the stack's own clock")
    base_url = stack.settings.base_url.rstrip("/")
    today = present.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    clock.set(today - HISTORY + timedelta(hours=9))

    with TestClient(stack.api(), base_url=base_url) as http:
        signed_up = _ok(
            http.post(
                "/api/v1/practices",
                json={
                    "practice_name": PRACTICE_NAME,
                    "owner_name": "Dana Whitfield",
                    "owner_email": OWNER_EMAIL,
                    "password": PASSWORD,
                    "timezone": TIMEZONE,
                    "crisis_line": CRISIS_LINE,
                },
            ),
            201,
        )
        as_owner = {"Authorization": f"Bearer {signed_up['token']}"}
        clinician_ids = [
            _ok(
                http.post(
                    "/api/v1/clinicians",
                    json={"email": email, "name": name, "timezone": TIMEZONE, "password": PASSWORD},
                    headers=as_owner,
                ),
                201,
            )["id"]
            for name, email in CLINICIANS
        ]
        client_ids = {
            client.reference: _ok(
                http.post(
                    "/api/v1/clients",
                    json={
                        "email": client.email,
                        "reference": client.reference,
                        "timezone": TIMEZONE,
                        "clinician_id": clinician_ids[client.clinician],
                    },
                    headers=as_owner,
                ),
                201,
            )["id"]
            for client in CLIENTS
        }
        key = _ok(
            http.post("/api/v1/api-keys", json={"name": "scheduling system"}, headers=as_owner), 201
        )["key"]
        as_scheduler = {"X-API-Key": key}

        # The scheduling system books each client's weekly series, past and next week's.
        for client in CLIENTS:
            weeks = len(client.answers)
            for week in range(weeks + 1):
                starts = _session_start(today, client, week - (weeks - 1))
                _ok(
                    http.put(
                        f"/api/v1/appointments/external/{client.reference}-w{week + 1}",
                        json={
                            "client_id": client_ids[client.reference],
                            "starts_at": starts.isoformat(),
                            "ends_at": (starts + SESSION).isoformat(),
                        },
                        headers=as_scheduler,
                    )
                )
        stack.settle()

        seed = DemoSeed(
            practice_id=signed_up["practice_id"],
            owner_email=OWNER_EMAIL,
            password=PASSWORD,
            clinician_emails=[email for _, email in CLINICIANS],
            client_emails={client.reference: client.email for client in CLIENTS},
            live_survey_url="",
            client_ids=client_ids,
        )
        for moment, what, client, week in _timeline(today):
            advance_to(stack, clock, moment)
            if what == "complete":
                _ok(
                    http.post(
                        f"/api/v1/appointments/external/{client.reference}-w{week + 1}/complete",
                        headers=as_scheduler,
                    )
                )
                seed.sessions += 1
            else:
                _answer(http, sink, client, client.answers[week], base_url)
                seed.answers += 1
            stack.settle()
        advance_to(stack, clock, present)

        live = next(client for client in CLIENTS if client.reference == LIVE_CLIENT)
        seed.live_survey_url = survey_link(sink, live.email, base_url)
        _ok(http.get(seed.live_survey_url.removeprefix(base_url)))

    with stack.db.transaction(UUID(seed.practice_id)) as session:
        seed.alerts = session.exec(select(func.count()).select_from(Alert)).one()
        seed.nudges_sent = session.exec(
            select(func.count()).select_from(Nudge).where(Nudge.status == NudgeStatus.SENT)
        ).one()
        seed.nudges_pending = session.exec(
            select(func.count()).select_from(Nudge).where(Nudge.status == NudgeStatus.PENDING)
        ).one()
        answered = session.exec(select(func.count()).select_from(Response)).one()
    if answered != seed.answers:
        raise RuntimeError(f"demo seeding stored {answered} answers, expected {seed.answers}")
    seed.emails = len(sink.list_messages())
    return seed


def _answer(
    http: httpx.Client, sink: MailSink, client: DemoClient, answer: Answer | None, base_url: str
) -> None:
    """The client opens the link in their newest survey email and sends the form."""
    assert answer is not None
    path = survey_link(sink, client.email, base_url).removeprefix(base_url)
    _ok(http.get(path))
    form: dict[str, str] = {
        key: str(score) for key, score in zip(ITEMS, answer.scores, strict=True)
    }
    if answer.talk:
        form["talk"] = "on"
    if answer.comment:
        form["comment"] = answer.comment
    _ok(http.post(path, data=form))


# -- the process ------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn, calling back once it listens (so the banner comes after the socket is open)."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _quiet_chatty_loggers() -> None:
    # aiosmtpd logs every SMTP command, recipients' addresses included, and httpx (the seeding
    # client) logs each URL, survey tokens included: neither belongs in Attune's logs.
    for name in ("mail.log", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _fresh(database: Path, mail_dir: Path) -> None:
    database.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    shutil.rmtree(mail_dir, ignore_errors=True)


def banner(seed: DemoSeed, base_url: str, sink: MailSink, database: Path) -> str:
    live = next(c for c in CLIENTS if c.reference == LIVE_CLIENT)
    clinicians = ", ".join(seed.clinician_emails)
    return "\n".join(
        [
            "",
            "Attune demo is running (embedded: SQLite, in-process worker and scheduler, "
            "local mail sink).",
            f"  Seeded {PRACTICE_NAME}: 2 clinicians, {len(CLIENTS)} clients, "
            f"{seed.sessions} past sessions, {seed.answers} answers, {seed.alerts} alerts, "
            f"{seed.nudges_sent} nudge sent, {seed.nudges_pending} waiting, {seed.emails} emails.",
            "",
            f"  Sign in           {base_url}/login",
            f"    as the owner    {seed.owner_email} / {seed.password}",
            f"    as a clinician  {seed.clinician_emails[0]} / {seed.password}",
            "",
            f"  API docs          {base_url}/schema",
            f"  Live survey link  {seed.live_survey_url}",
            f"                    (sent to {live.reference} after yesterday's session; "
            "answer it, then see the mail page)",
            f"  Mail page         {base_url}/dev/mail",
            f"  API login         POST {base_url}/api/v1/auth/login "
            '{"email": ..., "password": ...} returns a bearer token',
            f"  Clinicians        {clinicians} (same password)",
            "",
            f"  Data: {database}, mail: {sink.directory}/ (both reset on each start); "
            f"SMTP sink on 127.0.0.1:{sink.port}.",
            "  Press Ctrl-C to stop.",
            "",
        ]
    )


def run_demo(settings: Settings, *, port: int, smtp_port: int) -> None:
    """Seed a fresh demo database, then serve everything on 127.0.0.1:`port` until stopped."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    for wanted, flag in ((port, "--port"), (smtp_port, "--smtp-port")):
        if not _port_is_free(wanted):
            sys.exit(f"attune demo: port {wanted} is in use; choose another with {flag}.")

    mail_dir = Path(settings.mail_sink_dir)
    _fresh(DEMO_DATABASE, mail_dir)
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{DEMO_DATABASE}",
            "redis_url": None,
            "base_url": f"http://127.0.0.1:{port}",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "smtp_security": "none",
            "smtp_username": None,
            "smtp_password": None,
        }
    )
    # Seeding makes a few hundred log lines nobody needs to read; warnings still show.
    configure_logging("WARNING")
    _quiet_chatty_loggers()
    print(
        f"Attune demo: seeding four weeks of a demo practice into {DEMO_DATABASE} ...", flush=True
    )
    from shared.db.migrations import upgrade  # imported here: alembic logs as it loads

    upgrade(settings.database_url)

    present = datetime.now(UTC)
    clock = SwitchableClock(present - HISTORY)
    stack = build_stack(settings, clock=clock)
    sink = MailSink(mail_dir, port=smtp_port)
    try:
        sink.start()
        stack.start_workers(smtp_mailer(settings))
        seed = seed_demo(stack, clock, sink, present=present)
        clock.go_live()
        stack.start_scheduler()
        stack.start_relay()
        app = stack.api(dev_mail_dir=str(mail_dir))
        # After creating the app: Litestar points the root logger at its own handler then.
        configure_logging(settings.log_level)
        _quiet_chatty_loggers()
        text = banner(seed, settings.base_url, sink, DEMO_DATABASE)
        server = _Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=port,
                access_log=False,
                log_config=None,
                log_level="warning",
            ),
            on_started=lambda: print(text, flush=True),
        )
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("Attune demo: stopping ...", flush=True)
        stack.stop()
        sink.stop()
    print("Attune demo: stopped.", flush=True)
