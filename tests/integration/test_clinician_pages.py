"""A clinician's pages over HTTP: what they show, the forms' anti-forgery check, refused input
shown next to its field with nothing saved, repeats that change nothing, and the JSON API
saying the same words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Text, type_coerce
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import Alert, AlertStatus, AuditEvent
from tests.conftest import START
from tests.integration.test_appointments import make_dip
from tests.support.caseload import CaseloadClient, add_client, book
from tests.support.inspection import everything
from tests.support.pages import SignedIn
from tests.support.practice import PracticeFixture, add_clinician_with_client

CLINICIAN_PASSWORD = "another long secret"
OWNER_PASSWORD = "correct horse battery"
# make_dip's answer: honest 1, disagree 2, respected 1, input 2, pace 1 (overall 1.4).
EVIDENCE = [
    "Room to disagree: 2 of 5, at your practice&#39;s floor of 2",
    "Honesty: 1 of 5, below your practice&#39;s floor of 2",
    "Invited input: 2 of 5, at your practice&#39;s floor of 2",
    "Pace: 1 of 5, below your practice&#39;s floor of 2",
    "Feeling respected: 1 of 5, below your practice&#39;s floor of 2",
    "Overall 1.4, below your practice&#39;s line of 4",
]


def the_alert(stack: Stack) -> Alert:
    with everything(stack) as session:
        [alert] = session.exec(select(Alert)).all()
        return alert


@pytest.fixture
def dip(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock
) -> tuple[PracticeFixture, dict[str, Any]]:
    return make_dip(stack, http, sink, clock)


def clinician_of(http: httpx.Client, practice: PracticeFixture) -> SignedIn:
    return SignedIn(str(http.base_url), practice.clinician["email"], CLINICIAN_PASSWORD)


def owner_of(http: httpx.Client, practice: PracticeFixture) -> SignedIn:
    return SignedIn(str(http.base_url), practice.owner["email"], OWNER_PASSWORD)


def test_the_alert_page_says_the_evidence_in_words_with_the_moves_and_a_chart(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    alert = the_alert(stack)
    with clinician_of(http, practice) as casey:
        shown = casey.get(f"/alerts/{alert.id}")
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    page = shown.text
    for line in EVIDENCE:
        assert line in page
    assert "Address the relationship directly" in page and "Slow the pace" in page
    assert '<svg class="chart"' in page and "<table>" in page
    assert "Waiting for their first answer" not in page  # no nudge has gone yet
    assert practice.client["email"] not in page
    # The JSON API says the same words.
    words = http.get(f"/api/v1/alerts/{alert.id}/evidence", headers=practice.as_clinician())
    assert words.status_code == 200
    assert [w.replace("'", "&#39;") for w in words.json()] == EVIDENCE


def test_marking_addressed_needs_the_form_token_a_move_and_happens_once(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    alert = the_alert(stack)
    path = f"/alerts/{alert.id}/addressed"
    with clinician_of(http, practice) as casey:
        forged = casey.post_form(path, {"move": "slow_pace"}, csrf=False)
        assert forged.status_code == 403
        assert "anti-forgery token" in forged.text

        no_move = casey.post_form(path, {"note": "Talked about the pace."})
        assert no_move.status_code == 422
        assert "Choose the move you used." in no_move.text
        assert "Talked about the pace." in no_move.text  # what they typed is kept
        long_note = casey.post_form(path, {"move": "slow_pace", "note": "x" * 2001})
        assert long_note.status_code == 422
        assert "Keep the note to 2000 characters or fewer." in long_note.text
        unknown = casey.post_form(path, {"move": "hypnosis"})
        assert unknown.status_code == 422
        assert the_alert(stack).status is AlertStatus.OPEN  # nothing saved

        done = casey.post_form(path, {"move": "slow_pace", "note": "Talked about the pace."})
        assert (done.status_code, done.headers["location"]) == (303, f"/alerts/{alert.id}")
        again = casey.post_form(path, {"move": "invite_feedback", "note": "second thoughts"})
        assert again.status_code == 303
        page = casey.get(f"/alerts/{alert.id}").text
    assert "using “Slow the pace”" in page
    assert "Talked about the pace." in page
    saved = the_alert(stack)
    assert saved.status is AlertStatus.ACKNOWLEDGED
    assert (saved.addressed_move, saved.addressed_note) == ("slow_pace", "Talked about the pace.")
    with everything(stack) as session:
        # The stored ciphertext itself, not what EncryptedText hands back.
        stored = session.execute(
            select(type_coerce(Alert.addressed_note, Text)).where(Alert.id == alert.id)
        ).scalar_one()
        acknowledged = session.exec(
            select(AuditEvent).where(AuditEvent.action == "alert.acknowledged")
        ).all()
    assert stored and "Talked about the pace" not in stored  # encrypted at rest
    assert len(acknowledged) == 1 and acknowledged[0].detail == {"move": "slow_pace"}


def test_the_json_acknowledge_takes_the_same_body(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    alert = the_alert(stack)
    url = f"/api/v1/alerts/{alert.id}/acknowledge"
    refused = http.post(url, json={"move": "hypnosis"}, headers=practice.as_clinician())
    assert refused.status_code == 422
    assert "move" in refused.text
    made = http.post(
        url,
        json={"move": "invite_feedback", "note": "Asked how it landed."},
        headers=practice.as_clinician(),
    )
    assert made.status_code == 200, made.text
    assert (made.json()["addressed_move"], made.json()["status"]) == (
        "invite_feedback",
        "acknowledged",
    )


def test_before_your_sessions_lists_the_week_with_alerts_first(
    stack: Stack,
    http: httpx.Client,
    clock: ManualClock,
    dip: tuple[PracticeFixture, dict[str, Any]],
) -> None:
    practice, _ = dip
    calm = add_client(practice, 7)  # RC-2007: no dip, an earlier session this week
    clock.set(START + timedelta(days=2))
    practice.log_in_again()
    book(practice, calm, "calm-next", START + timedelta(days=3))
    book(practice, calm, "calm-later", START + timedelta(days=12))  # beyond the week
    _, sam_id = add_clinician_with_client(practice)
    # Drew's client has a session this week too: Casey must not see it.
    book(practice, CaseloadClient(sam_id, "", "SC-2002"), "sam-next", START + timedelta(days=4))
    with clinician_of(http, practice) as casey:
        shown = casey.get("/sessions")
    assert shown.status_code == 200, shown.text
    page = shown.text
    # RC-1001's session (day 7, with the alert) before RC-2007's (day 3, none).
    assert page.index("RC-1001") < page.index("RC-2007")
    assert "Mon 9 Mar, 09:00" in page and "Thu 5 Mar, 09:00" in page
    assert "Sat 14 Mar" not in page
    for line in EVIDENCE:
        assert line in page
    assert "SC-2002" not in page  # Drew's client
    assert practice.client["email"] not in page and calm.email not in page
    with owner_of(http, practice) as owner:
        whole = owner.get("/sessions").text
    assert "With Casey Clinician" in whole and "SC-2002" in whole


def test_finding_a_client_by_reference(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    add_clinician_with_client(practice)
    add_client(practice, 3)
    with clinician_of(http, practice) as casey:
        listed = casey.get("/clients").text
        assert "RC-1001" in listed and "RC-2003" in listed and "SC-2002" not in listed
        exact = casey.get("/clients", reference="rc-1001")
        assert exact.status_code == 303
        assert exact.headers["location"] == f"/clients/{practice.client['id']}"
        partial = casey.get("/clients", reference="RC-")
        assert "2 clients with" in partial.text
        other = casey.get("/clients", reference="SC-2002")
        assert other.status_code == 200 and "0 clients with" in other.text


def test_a_clients_page_has_every_answer_their_alerts_and_invitations(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    with clinician_of(http, practice) as casey:
        shown = casey.get(f"/clients/{practice.client['id']}")
    assert shown.status_code == 200, shown.text
    page = shown.text
    assert "<h1>RC-1001</h1>" in page
    assert "1 open alert" in page
    assert "<td>1.4</td>" in page  # the answer's overall in the table
    assert "Answered" in page  # its invitation
    assert "No nudge sent yet" in page
    assert practice.client["email"] not in page


def test_the_email_preference_form(
    stack: Stack, http: httpx.Client, dip: tuple[PracticeFixture, dict[str, Any]]
) -> None:
    practice, _ = dip
    with clinician_of(http, practice) as casey:
        shown = casey.get("/preferences").text
        assert 'value="per_alert" checked' in shown
        forged = casey.post_form(
            "/preferences", {"delivery": "daily_digest", "digest_hour": "8"}, csrf=False
        )
        assert forged.status_code == 403
        refused = casey.post_form("/preferences", {"delivery": "daily_digest", "digest_hour": "25"})
        assert refused.status_code == 422
        assert "Choose an hour from 00:00 to 23:00." in refused.text
        assert 'value="daily_digest" checked' in refused.text  # the choice is kept
        nothing = casey.post_form("/preferences", {"digest_hour": "8"})
        assert "Choose how you would like to hear about alerts." in nothing.text
        saved = casey.post_form("/preferences", {"delivery": "daily_digest", "digest_hour": "8"})
        assert (saved.status_code, saved.headers["location"]) == (303, "/preferences?saved=true")
        assert "One email each morning at 08:00." in casey.get("/preferences?saved=true").text
    read = http.get(
        f"/api/v1/clinicians/{practice.clinician['id']}/nudge-preference",
        headers=practice.as_clinician(),
    ).json()
    assert (read["delivery"], read["digest_hour"]) == ("daily_digest", 8)
    with owner_of(http, practice) as owner:
        assert "Casey Clinician" in owner.get("/preferences").text
        unchosen = owner.post_form("/preferences", {"delivery": "per_alert", "digest_hour": "7"})
        assert unchosen.status_code == 422
        chosen = owner.post_form(
            "/preferences",
            {"delivery": "per_alert", "digest_hour": "7", "clinician": practice.clinician["id"]},
        )
        assert chosen.status_code == 303
