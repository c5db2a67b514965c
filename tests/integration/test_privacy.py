"""Comments encrypted at rest with rotating keys; a client's export and erasure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import SQLModel, select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import ErasedClientTally, Response
from shared.privacy.encryption import CommentKeyring, install_keyring, keyring
from tests.support.answers import answer_a_survey
from tests.support.inspection import everything
from tests.support.loop import addressed_to, links
from tests.support.practice import PracticeFixture, create_practice

COMMENT = "I felt unheard when we talked about my sister."


def stored_comments(stack: Stack) -> list[str]:
    """The ciphertexts as the database holds them."""
    with everything(stack) as session:
        rows = session.execute(text("SELECT comment FROM response WHERE comment IS NOT NULL"))
        return [row[0] for row in rows]


def answers_seen(practice: PracticeFixture) -> list[str | None]:
    response = practice.http.get(
        f"/api/v1/clients/{practice.client['id']}/responses", headers=practice.as_owner()
    )
    assert response.status_code == 200, response.text
    return [answer["comment"] for answer in response.json()]


@pytest.fixture
def restore_keys(stack: Stack) -> Iterator[None]:
    yield
    install_keyring(CommentKeyring.from_settings(stack.settings))


def test_a_comment_is_stored_encrypted_and_read_back_in_plain(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    answer_a_survey(practice, stack, sink, clock, visit="v1", comment=COMMENT)

    [ciphertext] = stored_comments(stack)
    assert COMMENT not in ciphertext and "sister" not in ciphertext
    assert keyring().decrypt(ciphertext) == COMMENT
    assert answers_seen(practice) == [COMMENT]


def _rotate_with_the_command(stack: Stack, keys: str) -> str:
    settings = stack.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTUNE_")}
    env.update(ATTUNE_DATABASE_URL=settings.database_url, ATTUNE_COMMENT_KEYS=keys)
    if settings.system_database_url:
        env["ATTUNE_SYSTEM_DATABASE_URL"] = settings.system_database_url
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "keys", "rotate-comments"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rotation_keeps_old_comments_readable_and_moves_them_to_the_new_key(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, restore_keys: None
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    practice = create_practice(http)
    neighbour = create_practice(http, name="Orchard", slug="orchard")
    install_keyring(CommentKeyring([old]))
    answer_a_survey(practice, stack, sink, clock, visit="v1", comment="said under the old key")
    answer_a_survey(neighbour, stack, sink, clock, visit="v1", comment="the neighbour's words")
    # A clinician's private note on the alert that answer raised: encrypted the same way.
    [alert] = http.get("/api/v1/alerts", headers=practice.as_clinician()).json()
    noted = http.post(
        f"/api/v1/alerts/{alert['id']}/acknowledge",
        json={"move": "invite_feedback", "note": "noted under the old key"},
        headers=practice.as_clinician(),
    )
    assert noted.status_code == 200, noted.text

    # Step 1 of a rotation: the new key first, the old one still listed.
    install_keyring(CommentKeyring([new, old]))
    answer_a_survey(practice, stack, sink, clock, visit="v2", comment="said under the new key")
    assert answers_seen(practice) == ["said under the old key", "said under the new key"]
    only_new = CommentKeyring([new])
    assert sorted(only_new.is_current(c) for c in stored_comments(stack)) == [False, False, True]

    # Step 2: re-encrypt what the old key made, in every practice; running it again is a no-op.
    # Two comments and the note.
    assert _rotate_with_the_command(stack, f"{new},{old}").startswith("3 comments")
    assert all(only_new.is_current(c) for c in stored_comments(stack))
    assert _rotate_with_the_command(stack, f"{new},{old}").startswith("0 comments")

    # Step 3: drop the old key; everything still reads.
    install_keyring(only_new)
    assert answers_seen(practice) == ["said under the old key", "said under the new key"]
    assert answers_seen(neighbour) == ["the neighbour's words"]
    read = http.get(f"/api/v1/alerts/{alert['id']}", headers=practice.as_clinician()).json()
    assert read["addressed_note"] == "noted under the old key"


def test_the_owner_exports_everything_held_about_a_client(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    client_id = practice.client["id"]
    answer_a_survey(practice, stack, sink, clock, visit="v1", comment=COMMENT)
    survey = addressed_to(sink, practice.client["email"])[-1]
    unsubscribe = next(link for link in links(survey) if "/u/" in link)
    assert http.post(unsubscribe.removeprefix("http://attune.test")).status_code == 200
    path = f"/api/v1/clients/{client_id}/export"

    for headers in (practice.as_clinician(), practice.as_scheduler()):
        assert http.get(path, headers=headers).status_code == 403
    response = http.get(path, headers=practice.as_owner())
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()

    assert record["client"]["email"] == practice.client["email"]
    assert record["client"]["reference"] == "RC-1001"
    assert [a["external_id"] for a in record["appointments"]] == ["v1"]
    assert [i["status"] for i in record["survey_invitations"]] == ["answered"]
    [answer] = record["answers"]
    assert answer["comment"] == COMMENT
    assert answer["scores"] == {"honest": 2, "disagree": 3, "respected": 4, "input": 4, "pace": 2}
    assert len(record["alerts"]) == 1 and record["alerts"][0]["evidence"]
    assert record["answer_summary"]["answered"] == 1
    assert {e["kind"] for e in record["emails"]} == {"survey"}
    assert {link["purpose"] for link in record["links"]} == {"survey", "unsubscribe"}
    assert [c["opted_out"] for c in record["opt_out_changes"]] == [True]
    assert "token_hash" not in str(record)
    assert {e["action"] for e in record["access_log"]} >= {"client.added", "appointment.booked"}

    log = http.get(
        "/api/v1/audit-events", params={"client_id": client_id}, headers=practice.as_owner()
    ).json()
    assert log[0]["action"] == "client.exported"
    assert log[0]["actor_id"] == practice.owner["id"]


def _every_row(stack: Stack) -> dict[str, list[str]]:
    with everything(stack) as session:
        return {
            table.name: [repr(dict(row)) for row in session.execute(table.select()).mappings()]
            for table in SQLModel.metadata.sorted_tables
        }


def test_erasure_removes_the_person_and_their_answers_but_keeps_anonymous_figures(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice = create_practice(http)
    neighbour = create_practice(http, name="Orchard", slug="orchard")
    client = practice.client
    practice.book("next", clock.now() + timedelta(days=7))  # the dip's nudge aims at it
    answer_a_survey(practice, stack, sink, clock, visit="v1", comment=COMMENT)
    answer_a_survey(neighbour, stack, sink, clock, visit="v1", comment="keep me")
    before = _every_row(stack)
    assert any(client["id"] in row for rows in before.values() for row in rows)

    for headers in (practice.as_clinician(), practice.as_scheduler()):
        assert http.delete(f"/api/v1/clients/{client['id']}", headers=headers).status_code == 403
    erased = http.delete(f"/api/v1/clients/{client['id']}", headers=practice.as_owner())
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"appointments": 2, "answers": 1, "alerts": 1}

    after = _every_row(stack)
    for table, rows in after.items():
        for row in rows:
            assert client["email"] not in row, table
            if table != "audit_event":  # the trail of who did what keeps the bare id
                assert client["id"] not in row, table
    # Its reference went with the row (the neighbour's own RC-1001 stays).
    assert not any(practice.practice_id in row for row in after["client"])
    with everything(stack) as session:
        practices = {str(p) for p in session.exec(select(Response.practice_id)).all()}
        assert practices == {neighbour.practice_id}
        tally = session.exec(
            select(ErasedClientTally).where(
                ErasedClientTally.practice_id == UUID(practice.practice_id)
            )
        ).all()
    # The practice's figures keep the counts, and nothing that names anyone.
    totals = {
        field: sum(getattr(row, field) for row in tally)
        for field in (
            "clients_erased",
            "sessions_completed",
            "surveys_sent",
            "surveys_answered",
            "answer_mean_total",
            "alerts_raised",
        )
    }
    assert totals == {
        "clients_erased": 1,
        "sessions_completed": 1,
        "surveys_sent": 1,
        "surveys_answered": 1,
        "answer_mean_total": 3.0,
        "alerts_raised": 1,
    }
    assert answers_seen(neighbour) == ["keep me"]

    # Done is done: a retry finds nothing, and the export has nothing left to give.
    assert (
        http.delete(f"/api/v1/clients/{client['id']}", headers=practice.as_owner()).status_code
        == 404
    )
    assert (
        http.get(f"/api/v1/clients/{client['id']}/export", headers=practice.as_owner()).status_code
        == 404
    )
    log = http.get(
        "/api/v1/audit-events", params={"client_id": client["id"]}, headers=practice.as_owner()
    ).json()
    assert log[0]["action"] == "client.erased"
    assert log[0]["detail"] == {"appointments": 2, "answers": 1, "alerts": 1}
