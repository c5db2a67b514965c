"""The composition root: wires settings, database, clock, broker and mailer into processes."""

from __future__ import annotations

import gc
import signal
import threading
from dataclasses import dataclass, field
from typing import Literal
from uuid import uuid4

import structlog
from dramatiq import Broker, Worker
from dramatiq.errors import QueueJoinTimeout
from litestar import Litestar

from services.api.app import create_app
from services.api.context import ApiContext
from services.metrics.safety import SAFETY
from services.worker.actors import QUEUE
from services.worker.broker import BrokerPublisher, create_broker
from services.worker.relay import RelayListener, RelayThread
from services.worker.runtime import Runtime, install
from services.worker.scheduler import run_forever
from shared.clock import Clock, SystemClock
from shared.db import Database, create_database
from shared.email.smtp import SmtpMailer
from shared.health import Check, ProcessHealth, process_health
from shared.health.pulse import Pulse, loop_check, threads_check
from shared.notifications.delivery import Mailer
from shared.outbox import Publisher, relay, unpublished_count
from shared.privacy.encryption import CommentKeyring, install_keyring
from shared.settings import Settings
from shared.work.heartbeats import HeartbeatThread, stale_after

log = structlog.get_logger("attune.stack")
# A loop that has not come round for this long is wedged, not slow: liveness fails, and an
# orchestrator that restarts on it is right to. Loops keep coming round through a database
# or Redis outage (they log and try again), so an outage fails readiness, never liveness.
STALL_SECONDS = 60.0


@dataclass
class Stack:
    """Everything one process runs; `stop()` ends it in reverse order."""

    settings: Settings
    db: Database
    clock: Clock
    broker: Broker
    publisher: BrokerPublisher
    workers: list[Worker] = field(default_factory=list)
    threads: list[threading.Thread] = field(default_factory=list)
    relay: RelayThread | None = None
    relay_listener: RelayListener | None = None
    heartbeat: HeartbeatThread | None = None
    scheduler_pulse: Pulse | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    _health: ProcessHealth | None = None

    def start_workers(self, mailer: Mailer, *, count: int = 1, threads: int = 2) -> None:
        # One heartbeat per process: its claims are handed back seconds after it dies.
        self.heartbeat = HeartbeatThread(
            self.db, uuid4(), every=self.settings.worker_heartbeat_seconds
        )
        self.heartbeat.start()
        install(
            Runtime(
                settings=self.settings,
                db=self.db,
                clock=self.clock,
                mailer=mailer,
                worker_id=self.heartbeat.worker_id,
            )
        )
        for _ in range(count):
            worker = Worker(self.broker, worker_threads=threads, worker_timeout=100)
            worker.start()
            self.workers.append(worker)

    def start_scheduler(self) -> None:
        # The one process that finds due work also reports what is waiting (its /metrics).
        SAFETY.watch(self.db, self.clock)
        self.scheduler_pulse = Pulse()
        thread = threading.Thread(
            target=run_forever,
            args=(self.db, self.clock, self.publisher),
            kwargs={
                "interval": self.settings.scheduler_interval_seconds,
                "stop": self.stop_event,
                "heartbeat_stale": stale_after(self.settings.worker_heartbeat_seconds),
                "retention": self.settings.retention,
                "pulse": self.scheduler_pulse,
            },
            name="scheduler",
            daemon=True,
        )
        thread.start()
        self.threads.append(thread)

    def start_relay(self) -> RelayThread:
        """The embedded mode's relay: woken in this process by the API after each commit
        that wrote an event (SQLite has no NOTIFY). On PostgreSQL the workers relay."""
        self.relay = RelayThread(self.db, self.publisher, self.clock)
        self.relay.start()
        return self.relay

    def start_relay_listener(self) -> RelayListener:
        """Production's relay (PostgreSQL): woken by the database at each commit that wrote
        an event, wherever it was written, and sweeping every few seconds besides."""
        self.relay_listener = RelayListener(
            self.db, self.publisher, self.clock, sweep=self.settings.relay_sweep_seconds
        )
        self.relay_listener.start()
        return self.relay_listener

    def start_relay_for(self, process: Literal["api", "worker"]) -> None:
        """The relay of a production process: the workers' listeners on PostgreSQL, which
        wakes them at every commit that wrote an event; on SQLite, where nothing can, the API
        that wrote the event wakes a relay of its own."""
        if self.db.dialect == "postgresql":
            if process == "worker":
                self.start_relay_listener()
        elif process == "api":
            self.start_relay()

    def api(self, *, dev_mail_dir: str | None = None) -> Litestar:
        context = ApiContext(settings=self.settings, db=self.db, clock=self.clock, relay=self.relay)
        return create_app(context, dev_mail_dir=dev_mail_dir, health=self.health())

    def health(self) -> ProcessHealth:
        """Live and ready for whatever this process runs (API, workers, scheduler, or all
        of them in `attune serve`)."""
        if self._health is None:
            self._health = process_health(self.db, self.settings, self._liveness)
        return self._health

    def _liveness(self) -> list[Check]:
        checks = []
        if self.heartbeat is not None:
            # The heartbeat thread is what tells the scheduler this worker is alive: once it
            # stops, the worker's claims are handed back, whatever its other threads do.
            beat = self.settings.worker_heartbeat_seconds
            limit = max(STALL_SECONDS, stale_after(beat).total_seconds())
            checks.append(loop_check("heartbeat", self.heartbeat.pulse.age(), limit))
        if self.workers:
            # dramatiq keeps its threads alive through broker and actor errors; a dead one
            # is a crash nothing else reports, and the queue stops being worked.
            threads = [t for w in self.workers for t in (*w.workers, *w.consumers.values())]
            checks.append(threads_check("workers", threads))
        if self.relay_listener is not None:
            # A worker's relay is how events reach the broker: one that stopped coming round
            # leaves them to the scheduler's sweep, and a restart mends it. It keeps coming
            # round through a database outage (it reconnects), so that fails readiness only.
            checks.append(
                loop_check("relay", self.relay_listener.pulse.age(), STALL_SECONDS)
                if self.relay_listener.alive
                else Check("relay", False, "the listener thread has died")
            )
        # Not the embedded mode's in-process relay: the scheduler relays too, and a process
        # restarted over a wedged relay would stop serving clinics for a faster path.
        if self.scheduler_pulse is not None:
            interval = self.settings.scheduler_interval_seconds
            limit = max(STALL_SECONDS, 10 * interval)
            checks.append(loop_check("scheduler", self.scheduler_pulse.age(), limit))
        return checks

    def settle(self, publisher: Publisher | None = None, *, rounds: int = 20) -> None:
        """Publish the outbox and wait until the in-process workers have done everything it
        caused: how the demo's seeding and the tests drive the loop without sleeping."""
        publisher = publisher or self.publisher
        for _ in range(rounds):
            relay(self.db, publisher, self.clock)
            self.broker.join(QUEUE, timeout=30_000)
            for worker in self.workers:
                worker.join()
            if unpublished_count(self.db) == 0:
                return
        raise RuntimeError("the loop did not settle")

    def stop(self, *, drain_seconds: float = 0) -> None:
        """`drain_seconds`: after the scheduler and relay stop, how long the workers get to
        empty the queue (the in-process broker forgets what it still holds when it ends)."""
        self.stop_event.set()
        if self.relay is not None:
            self.relay.stop()
        if self.relay_listener is not None:
            self.relay_listener.stop()
        for thread in self.threads:
            thread.join(timeout=10)
        if drain_seconds:
            try:
                self.broker.join(QUEUE, timeout=int(drain_seconds * 1000))
            except QueueJoinTimeout:
                log.warning("stack.drain_incomplete", seconds=drain_seconds)
        for worker in self.workers:
            worker.stop()
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.broker.close()
        SAFETY.forget(self.db)
        self.db.dispose()


def build_stack(
    settings: Settings, *, clock: Clock | None = None, namespace: str | None = None
) -> Stack:
    broker = create_broker(settings, namespace=namespace)
    install_keyring(CommentKeyring.from_settings(settings))
    return Stack(
        settings=settings,
        db=create_database(settings.database_url, system_url=settings.system_database_url),
        clock=clock or SystemClock(),
        broker=broker,
        publisher=BrokerPublisher(broker),
    )


def smtp_mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer.from_settings(settings)


def freeze_startup_heap() -> None:
    """Move everything built so far (the app, its routes and OpenAPI schema, SQLAlchemy's
    metadata, the imported modules: some 180,000 objects) out of the garbage collector's
    reach; call it once, just before serving. Each full collection otherwise walks all of it
    with the event loop stopped: 40-60 ms of CPU, 100-680 ms of wall time on a loaded
    machine, during which every request in flight waits (at 32 concurrent survey answers,
    one or two per 3,000 answers). After the freeze a full collection takes 7-12 ms. Garbage
    made before the freeze is collected first; what is frozen the process keeps until it
    exits anyway."""
    gc.collect()
    gc.freeze()


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM, so a process ends cleanly under docker or Ctrl-C."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(1)
