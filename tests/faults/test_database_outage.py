"""PostgreSQL goes away under load: the API answers 503 with Retry-After (never 500) while
it is gone, and recovers by itself when it is back; nothing it acknowledged is lost.

The outage is a TCP proxy this test owns between the app and PostgreSQL: it cuts every
connection and refuses new ones, as a restarting server would. The shared server is never
touched.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import func, select

from shared.clock import ManualClock
from shared.db import Database
from shared.models import Appointment
from shared.settings import Settings
from tests.conftest import START, make_stack
from tests.support.practice import PracticeFixture, create_practice
from tests.support.processes import poll
from tests.support.proxy import TcpProxy
from tests.support.server import serving

pytestmark = pytest.mark.postgres
SENDERS = 3


@pytest.fixture
def proxy(database_url: str) -> Iterator[TcpProxy]:
    target = make_url(database_url)
    with TcpProxy(target.host or "127.0.0.1", target.port or 5432) as running:
        yield running


@dataclass
class Load:
    """Threads booking appointments as a practice's scheduling system would, each PUT with
    its own external id, and recording every answer."""

    practice: PracticeFixture
    base_url: str
    statuses: Counter[int] = field(default_factory=Counter)
    booked: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    broken: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, sender: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            number = 0
            while not self.stop.is_set():
                number += 1
                external_id = f"load-{sender}-{number}"
                try:
                    answer = http.put(
                        f"/api/v1/appointments/external/{external_id}",
                        json=_booking(self.practice, number),
                        headers=self.practice.as_scheduler(),
                    )
                except httpx.HTTPError as error:
                    with self.lock:
                        self.broken.append(f"{type(error).__name__}: {error}")
                    continue
                with self.lock:
                    self.statuses[answer.status_code] += 1
                    if answer.status_code == 200:
                        self.booked.add(external_id)
                    elif _says_unavailable(answer):
                        self.refused.add(external_id)
                    else:
                        self.broken.append(f"{answer.status_code}: {answer.text[:200]}")

    def count(self, status: int) -> int:
        with self.lock:
            return self.statuses[status]


def _says_unavailable(answer: httpx.Response) -> bool:
    """A 503 that tells the caller to come back, as a scheduling system would read it."""
    return (
        answer.status_code == 503
        and answer.headers.get("retry-after") == "5"
        and "unavailable" in answer.json().get("detail", "")
    )


def _booking(practice: PracticeFixture, number: int) -> dict[str, str]:
    starts = START + timedelta(days=1, minutes=number)
    return {
        "client_id": practice.client["id"],
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(minutes=50)).isoformat(),
    }


def test_the_api_answers_503_while_the_database_is_away_and_recovers(
    settings: Settings, db: Database, owner_db: Database, clock: ManualClock, proxy: TcpProxy
) -> None:
    def through_proxy(url: str | None) -> str | None:
        if url is None:
            return None
        proxied = make_url(url).set(host="127.0.0.1", port=proxy.port)
        return proxied.render_as_string(hide_password=False)

    # Both of the app's roles reach PostgreSQL through the proxy: the outage takes both away.
    stack = make_stack(
        settings.model_copy(
            update={
                "database_url": through_proxy(settings.database_url),
                "system_database_url": through_proxy(settings.system_database_url),
            }
        ),
        clock,
    )
    senders: list[threading.Thread] = []
    stop = threading.Event()
    try:
        with serving(stack.api()) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
            load = Load(create_practice(http), base_url, stop=stop)
            senders = [
                threading.Thread(target=load.run, args=(n,), daemon=True) for n in range(SENDERS)
            ]
            for sender in senders:
                sender.start()
            assert poll(lambda: load.count(200) >= 20, seconds=20)

            proxy.down()
            assert poll(lambda: load.count(503) >= 20, seconds=20), load.statuses
            health = http.get("/health")
            assert health.status_code == 503
            ok_before_return = load.count(200)

            proxy.up()
            assert poll(lambda: load.count(200) >= ok_before_return + 20, seconds=20), load.statuses
            stop.set()
            for sender in senders:
                sender.join(timeout=30)
            assert http.get("/health").status_code == 200

            assert load.broken == []
            assert set(load.statuses) == {200, 503}
            # What the scheduling system was told is saved is saved; what was refused, it
            # sends again and that goes through.
            for external_id in sorted(load.refused - load.booked):
                number = int(external_id.rsplit("-", 1)[1])
                again = http.put(
                    f"/api/v1/appointments/external/{external_id}",
                    json=_booking(load.practice, number),
                    headers=load.practice.as_scheduler(),
                )
                assert again.status_code == 200, again.text
        with owner_db.transaction() as session:
            stored = set(
                session.exec(
                    select(Appointment.external_id).where(
                        Appointment.external_id.startswith("load-")  # type: ignore[union-attr]
                    )
                ).all()
            )
            assert stored == load.booked | load.refused
            assert session.exec(select(func.count()).select_from(Appointment)).one() == len(stored)
    finally:
        stop.set()
        for sender in senders:
            sender.join(timeout=30)
        stack.stop()
