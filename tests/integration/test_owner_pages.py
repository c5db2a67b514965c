"""The owner's pages over real HTTP with a cookie session: figures, settings with preview and
save, the settings history, failed emails and the audit log. Forms are read back from the
page and posted as a browser posts them (urlencoded, with the page's anti-forgery field)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.db import Database
from shared.settings import Settings
from tests.conftest import START
from tests.integration.test_bad_input import unchanged
from tests.integration.test_delivery_failures import loop_mailing_to, send_survey
from tests.integration.test_smtp import Refuser, smtp_server
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.pages import form_fields, replaced, signed_in
from tests.support.practice import PracticeFixture, add_clinician_with_client, create_practice

OWNER_PASSWORD = "correct horse battery"
CLINICIAN_PASSWORD = "another long secret"
OWNER_PAGES = (
    "/practice",
    "/practice/settings",
    "/practice/settings/history",
    "/practice/emails",
    "/practice/audit",
)


@pytest.fixture
def owner(http: httpx.Client, practice: PracticeFixture) -> Iterator[httpx.Client]:
    with signed_in(str(http.base_url), practice.owner["email"], OWNER_PASSWORD) as client:
        yield client


def text_of(html: str) -> str:
    """The page's words, tags dropped and spaces collapsed, for asserting what a person reads."""
    words = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
    return re.sub(r" ([.,;:])", r"\1", words)


def field_error(html: str, name: str) -> str:
    found = re.search(
        rf'<p class="field-error" id="{re.escape(name.replace(".", "-"))}-error">([^<]*)</p>', html
    )
    assert found, f"no error shown next to {name}"
    return unescape(found.group(1))


def input_value(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', html, re.S)
    assert found, f"no input {name}"
    return unescape(found.group(1))


def settings_form(owner: httpx.Client) -> list[tuple[str, str]]:
    page = owner.get("/practice/settings")
    assert page.status_code == 200, page.text
    return form_fields(page.text, "/practice/settings")


def post_settings(
    owner: httpx.Client, fields: list[tuple[str, str]], action: str
) -> httpx.Response:
    return owner.post(
        "/practice/settings",
        content=httpx.QueryParams([*fields, ("action", action)]).__str__(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def api_settings(practice: PracticeFixture) -> dict[str, Any]:
    response = practice.http.get("/api/v1/settings", headers=practice.as_owner())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- settings -----------------------------------------------------------------------------


def test_the_settings_page_explains_every_rule_in_one_sentence(owner: httpx.Client) -> None:
    page = owner.get("/practice/settings")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    words = text_of(page.text)
    for sentence in (
        "Flags a session when any one item is answered at or below 2 out of 5.",
        "Flags a session when the average of all items is below 4.",
        "Flags a session when the average falls 0.75 points or more below the client's usual, "
        "once they have answered 3 times.",
        "Flags a client who has left 3 surveys in a row unanswered.",
        "Flags a session when the client ticks “I'd like to talk about how therapy is going”.",
    ):
        assert sentence in words
    fields = dict(form_fields(page.text, "/practice/settings"))
    assert fields["rules.low_overall.floor"] == "4"
    assert fields["timing.quiet_hours.start"] == "21:00"
    assert fields["timezone"] == "Europe/London"
    assert "rules.sudden_drop.enabled" not in fields  # off by default: its box is unticked


def test_saving_makes_a_version_and_the_history_says_what_changed(
    owner: httpx.Client, practice: PracticeFixture
) -> None:
    fields = replaced(
        settings_form(owner),
        rules__low_overall__floor="4.2",
        sender__display_name="Harbour feedback",
    )
    fields = [f for f in fields if f != ("item_keys", "input")]  # untick one item
    fields.append(("rules.sudden_drop.enabled", "on"))
    saved = post_settings(owner, fields, "save")
    assert saved.status_code == 303
    assert saved.headers["location"] == "/practice/settings/history?saved=2"

    current = api_settings(practice)
    assert current["version"] == 2
    assert current["settings"]["rules"]["low_overall"]["floor"] == 4.2
    assert current["settings"]["rules"]["sudden_drop"]["enabled"] is True
    assert current["settings"]["item_keys"] == ["honest", "disagree", "respected", "pace"]
    assert current["settings"]["sender"]["display_name"] == "Harbour feedback"
    # What the form does not show is kept as it was (here: everything else is the default).
    assert current["settings"]["timing"]["quiet_hours"] == {"start": "21:00:00", "end": "08:00:00"}

    history = owner.get(saved.headers["location"])
    words = text_of(history.text)
    assert "Saved. Your settings are now version 2." in words
    assert "Version 2 in use Saved by Olive Owner on 2 Mar 2026 at 09:00 (Europe/London)" in words
    for line in (
        "Survey items: removed input",
        "Low overall floor: 4.0 → 4.2",
        "Sudden drop rule: off → on",
        "Sender name: “Session feedback” → “Harbour feedback”",
    ):
        assert line in words
    assert "The first settings, made when the practice was set up." in words
    # The JSON history says the same.
    api_history = practice.http.get("/api/v1/settings/history", headers=practice.as_owner())
    assert api_history.json()[0]["changes"] == [
        "Survey items: removed input",
        "Low overall floor: 4.0 → 4.2",
        "Sudden drop rule: off → on",
        "Sender name: “Session feedback” → “Harbour feedback”",
    ]
    assert api_history.json()[1]["changes"] == []

    # Posting the same form again (a double click, a reload) makes no third version.
    again = post_settings(owner, fields, "save")
    assert again.headers["location"] == "/practice/settings/history?unchanged=1"
    assert api_settings(practice)["version"] == 2


def test_a_refused_value_is_shown_next_to_its_field_and_the_rest_is_kept(
    stack: Stack, owner: httpx.Client, practice: PracticeFixture
) -> None:
    fields = replaced(
        settings_form(owner),
        rules__floor__floor="5",
        timing__survey_delay_minutes="an hour",
        sender__display_name="Harbour feedback",
        rules__drop__points="1.25",
        timezone="Europe/Narnia",
    )
    fields = [f for f in fields if f[0] != "item_keys" or f[1] in ("honest", "pace")]
    with unchanged(stack):
        refused = post_settings(owner, fields, "save")
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("text/html")
    html = refused.text
    assert "would flag every answer" in field_error(html, "rules.floor.floor")
    assert field_error(html, "timing.survey_delay_minutes") == (
        "Enter a whole number between 0 and 10080."
    )
    assert field_error(html, "timezone") == "Unknown time zone 'Europe/Narnia'."
    assert field_error(html, "item_keys") == "Choose 3 to 5 built-in items."
    assert re.search(r'aria-invalid="true" aria-describedby="[^"]*rules-floor-floor-error"', html)
    assert "Nothing was saved" in text_of(html)
    # Everything typed stays as typed, the refused values included.
    kept = dict(form_fields(html, "/practice/settings"))
    assert kept["rules.floor.floor"] == "5"
    assert kept["timing.survey_delay_minutes"] == "an hour"
    assert kept["sender.display_name"] == "Harbour feedback"
    assert kept["rules.drop.points"] == "1.25"
    assert [v for k, v in form_fields(html, "/practice/settings") if k == "item_keys"] == [
        "honest",
        "pace",
    ]
    assert api_settings(practice)["version"] == 1


def test_custom_items_are_added_refused_in_their_row_and_removed(
    owner: httpx.Client, practice: PracticeFixture
) -> None:
    fields = replaced(
        settings_form(owner),
        custom_items__0__key="Safe To Speak",
        custom_items__0__prompt="I felt safe to say what was on my mind.",
        custom_items__0__topic="Feeling safe to speak",
        custom_items__0__move="address_relationship",
    )
    refused = post_settings(owner, fields, "save")
    assert refused.status_code == 422
    assert field_error(refused.text, "custom_items.0.key") == (
        "Use 2 to 32 lowercase letters, digits or underscores, starting with a letter."
    )
    kept = dict(form_fields(refused.text, "/practice/settings"))
    assert kept["custom_items.0.key"] == "Safe To Speak"
    assert kept["custom_items.0.prompt"] == "I felt safe to say what was on my mind."
    assert kept["custom_items.0.move"] == "address_relationship"

    fixed = replaced(
        form_fields(refused.text, "/practice/settings"), custom_items__0__key="safe_to_speak"
    )
    assert post_settings(owner, fixed, "save").status_code == 303
    [item] = api_settings(practice)["settings"]["custom_items"]
    assert item == {
        "key": "safe_to_speak",
        "prompt": "I felt safe to say what was on my mind.",
        "move": "address_relationship",
        "topic": "Feeling safe to speak",
    }
    history = text_of(owner.get("/practice/settings/history").text)
    assert "Your own item added: safe_to_speak (“I felt safe to say what was on my mind.”)" in (
        history
    )

    # The saved item, and a blank row to add another; clearing the item's row removes it.
    again = settings_form(owner)
    assert dict(again)["custom_items.1.key"] == ""
    cleared = replaced(
        again, custom_items__0__key="", custom_items__0__prompt="", custom_items__0__topic=""
    )
    assert post_settings(owner, cleared, "save").status_code == 303
    assert api_settings(practice)["settings"]["custom_items"] == []
    assert "Your own item removed: safe_to_speak" in text_of(
        owner.get("/practice/settings/history").text
    )


def test_quiet_hours_can_be_turned_off_and_on_again(
    owner: httpx.Client, practice: PracticeFixture
) -> None:
    fields = [f for f in settings_form(owner) if f[0] != "timing.quiet_hours"]
    assert post_settings(owner, fields, "save").status_code == 303
    assert api_settings(practice)["settings"]["timing"]["quiet_hours"] is None
    assert "Quiet hours: 21:00 to 08:00 → off" in text_of(
        owner.get("/practice/settings/history").text
    )
    fields = [
        *replaced(
            settings_form(owner),
            timing__quiet_hours__start="22:30",
            timing__quiet_hours__end="07:00",
        ),
        ("timing.quiet_hours", "on"),
    ]
    assert post_settings(owner, fields, "save").status_code == 303
    assert api_settings(practice)["settings"]["timing"]["quiet_hours"] == {
        "start": "22:30:00",
        "end": "07:00:00",
    }


@pytest.fixture
def seeded(stack: Stack, practice: PracticeFixture) -> dict[str, str]:
    """RC-1001 (Casey's) steady at 5 then a mean of 4.2 (a drop), SC-2002 (Drew's) a 3.8 (low
    overall) and an unanswered survey, all in the last 30 days, evaluated by the real rules."""
    casey, robin = practice.clinician["id"], practice.client["id"]
    drew, sam = add_clinician_with_client(practice)
    pid = UUID(practice.practice_id)
    for days_ago in (60, 53, 46, 27):
        answered_session(stack.db, pid, UUID(robin), UUID(casey), at=START - timedelta(days_ago))
    answered_session(
        stack.db,
        pid,
        UUID(robin),
        UUID(casey),
        at=START - timedelta(days=20),
        scores=FIVE | {"honest": 4, "respected": 4, "pace": 3},
    )
    answered_session(
        stack.db,
        pid,
        UUID(sam),
        UUID(drew),
        at=START - timedelta(days=10),
        scores={"honest": 3, "disagree": 4, "respected": 4, "input": 4, "pace": 4},
    )
    unanswered_session(stack.db, pid, UUID(sam), UUID(drew), at=START - timedelta(days=5))
    return {"casey": casey, "drew": drew}


def test_preview_shows_the_counts_and_saves_and_sends_nothing(
    stack: Stack, owner: httpx.Client, practice: PracticeFixture, seeded: dict[str, str]
) -> None:
    fields = replaced(settings_form(owner), rules__floor__floor="3", days="30")
    fields = [f for f in fields if f[0] != "rules.low_overall.enabled"]
    with unchanged(stack):  # no row written, no outbox event, no email
        previewed = post_settings(owner, fields, "preview")
    assert previewed.status_code == 200, previewed.text
    words = text_of(previewed.text)
    # The page's counts are the JSON preview's counts for the same candidate.
    candidate = api_settings(practice)["settings"]
    candidate["rules"]["floor"]["floor"] = 3
    candidate["rules"]["low_overall"]["enabled"] = False
    expected = practice.http.post(
        "/api/v1/settings/preview",
        json={"settings": candidate, "days": 30},
        headers=practice.as_owner(),
    ).json()
    assert expected["current"]["alerts"] == 2 and expected["candidate"]["alerts"] == 2
    assert (
        f"Your current settings would have raised {expected['current']['alerts']} alerts; "
        f"these would have raised {expected['candidate']['alerts']}. "
        "Nothing has been saved or sent." in words
    )
    for title, rule in (
        ("Low item", "floor"),
        ("Low overall", "low_overall"),
        ("Drop from usual", "drop"),
    ):
        assert (
            f"{title} {expected['current']['by_rule'][rule]} "
            f"{expected['candidate']['by_rule'][rule]}" in words
        )
    for row in expected["by_clinician"]:
        assert f"{row['name']} {row['current']} {row['candidate']}" in words
    # The form still holds the candidate, ready to save.
    kept = dict(form_fields(previewed.text, "/practice/settings"))
    assert kept["rules.floor.floor"] == "3"
    assert "rules.low_overall.enabled" not in kept
    assert "Flags a session when any one item is answered at or below 3 out of 5." in words
    assert api_settings(practice)["version"] == 1

    too_long = replaced(fields, days="900")
    refused = post_settings(owner, too_long, "preview")
    assert refused.status_code == 422
    assert field_error(refused.text, "days") == "Enter a whole number between 1 and 365."
    assert dict(form_fields(refused.text, "/practice/settings"))["rules.floor.floor"] == "3"


def test_a_partial_form_is_refused_by_preview_as_by_save(
    stack: Stack, owner: httpx.Client, practice: PracticeFixture
) -> None:
    """The page's candidate is the current settings with the form laid over them, for the
    preview as for the save: a field left out of the post is refused next to its name by
    both, never previewed at a default."""
    whole = settings_form(owner)
    partial = [
        (name, value)
        for name, value in replaced(whole, rules__floor__floor="3", days="30")
        if name in ("_csrf_token", "rules.floor.floor", "days", "timezone")
    ]
    with unchanged(stack):
        previewed = post_settings(owner, partial, "preview")
        saved = post_settings(owner, partial, "save")
    assert previewed.status_code == saved.status_code == 422
    for name in ("rules.low_overall.floor", "timing.survey_delay_minutes"):
        assert field_error(previewed.text, name) == field_error(saved.text, name)
    assert api_settings(practice)["version"] == 1
    # The whole form previews, with the typed floor.
    shown = post_settings(owner, replaced(whole, rules__floor__floor="3", days="30"), "preview")
    assert shown.status_code == 200, shown.text
    assert "Flags a session when any one item is answered at or below 3 out of 5." in text_of(
        shown.text
    )


def test_a_form_without_its_anti_forgery_field_is_refused(
    stack: Stack, owner: httpx.Client, practice: PracticeFixture
) -> None:
    fields = [f for f in settings_form(owner) if f[0] != "_csrf_token"]
    with unchanged(stack):
        forged = post_settings(owner, replaced(fields, rules__floor__floor="3"), "save")
    assert forged.status_code == 403
    assert "anti-forgery token" in text_of(forged.text)
    wrong = replaced(settings_form(owner), _csrf_token="0" * 64)
    assert post_settings(owner, wrong, "save").status_code == 403
    assert api_settings(practice)["version"] == 1


def test_a_clinician_is_refused_every_owner_page(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    with signed_in(str(http.base_url), practice.clinician["email"], CLINICIAN_PASSWORD) as casey:
        for path in OWNER_PAGES:
            refused = casey.get(path)
            assert refused.status_code == 403, path
            assert refused.headers["content-type"].startswith("text/html")
            assert "Traceback" not in refused.text
            assert "Harbour Counselling" not in refused.text
        fields = [("_csrf_token", casey.cookies["attune_csrf"]), ("rules.floor.floor", "3")]
        with unchanged(stack):
            assert post_settings(casey, fields, "save").status_code == 403
            assert post_settings(casey, fields, "preview").status_code == 403


def test_signed_out_owner_pages_lead_to_sign_in(http: httpx.Client) -> None:
    for path in OWNER_PAGES:
        response = http.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next=")


# --- figures ------------------------------------------------------------------------------


def test_the_figures_page_shows_the_same_numbers_as_the_json_figures(
    owner: httpx.Client, practice: PracticeFixture, seeded: dict[str, str]
) -> None:
    params = {"first_day": "2026-01-01", "last_day": "2026-02-28"}
    page = owner.get("/practice", params=params)
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    found = practice.http.get("/api/v1/figures", params=params, headers=practice.as_owner()).json()
    [january, february] = found["by_month"]
    assert (january["month"], february["month"]) == ("2026-01", "2026-02")
    assert found["overall"]["dips"] == january["overall"]["dips"] + february["overall"]["dips"] == 2
    assert found["overall"]["invitations_sent"] == 7
    # Response rate by month: whole practice, Casey, Drew.
    assert "Jan 2026 100% 100% no data" in words
    assert "Feb 2026 75% 100% 50%" in words
    # Dips per 100 appointments by month.
    assert "Jan 2026 0 0 no data" in words
    assert "Feb 2026 50 50 50" in words
    assert "Response rate 86% 6 of 7 surveys answered" in words
    assert "Casey Clinician 5 100%" in words
    # Each chart is an image with its text alternative.
    assert page.text.count('role="img"') == 4
    assert "Response rate by month, from Jan 2026 to Feb 2026." in words
    # Per move: the same rows as the JSON's, in the page's words.
    for row in found["by_move"]:
        assert row["repaired"] == row["not_repaired"] == 0  # no answer since either dip
    titles = {
        "address_relationship": "Address the relationship directly",
        "invite_feedback": "Invite feedback",
        "slow_pace": "Slow the pace",
    }
    assert [row["move"] for row in found["by_move"]] == list(titles)
    assert sum(row["alerts"] for row in found["by_move"]) >= 2
    for row in found["by_move"]:
        assert f"{titles[row['move']]} {row['alerts']} 0 0 no data" in words


def test_the_figures_page_refuses_a_bad_period_next_to_its_field(owner: httpx.Client) -> None:
    garbled = owner.get("/practice", params={"first_day": "yesterday", "last_day": "2026-02-01"})
    assert garbled.status_code == 422
    assert field_error(garbled.text, "first_day") == "Enter a date as YYYY-MM-DD, e.g. 2026-03-01."
    assert input_value(garbled.text, "first_day") == "yesterday"
    assert input_value(garbled.text, "last_day") == "2026-02-01"
    backwards = owner.get("/practice", params={"first_day": "2026-02-10", "last_day": "2026-02-01"})
    assert backwards.status_code == 422
    assert field_error(backwards.text, "last_day") == (
        "The range must end on or after the day it starts."
    )
    # With no period asked for: the last six months up to today (2 Mar 2026).
    default = owner.get("/practice")
    assert input_value(default.text, "first_day") == "2025-10-01"
    assert input_value(default.text, "last_day") == "2026-03-02"
    assert "Oct 2025" in text_of(default.text)


# --- emails and the audit log -------------------------------------------------------------


def test_the_emails_page_shows_a_failed_survey_and_its_reason_without_the_address(
    settings: Settings, clock: ManualClock, db: Database
) -> None:
    handler = Refuser("RCPT", "550 5.1.1 <{address}>: Recipient address rejected")
    with smtp_server(handler) as port, loop_mailing_to(port, settings, clock) as (stack, http):
        practice = create_practice(http)
        with signed_in(str(http.base_url), practice.owner["email"], OWNER_PASSWORD) as owner:
            empty = owner.get("/practice/emails")
            assert "Every email so far has gone through." in text_of(empty.text)
            send_survey(stack, clock, practice)
        with signed_in(str(http.base_url), practice.owner["email"], OWNER_PASSWORD) as owner:
            page = owner.get("/practice/emails")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Survey to a client Not delivered 1" in words
    assert "550 5.1.1" in words and "Recipient address rejected" in words
    assert "robin.client@harbour.example.com" not in page.text


def test_the_audit_log_filters_by_person_client_and_day(
    practice: PracticeFixture, clock: ManualClock
) -> None:
    http = practice.http
    read = http.get(f"/api/v1/clients/{practice.client['id']}", headers=practice.as_clinician())
    assert read.status_code == 200
    clock.advance(timedelta(days=1))
    practice.log_in_again()
    assert http.get("/api/v1/settings", headers=practice.as_owner()).status_code == 200
    owner = signed_in(str(http.base_url), practice.owner["email"], OWNER_PASSWORD)

    everything = text_of(owner.get("/practice/audit").text)
    assert "Casey Clinician Opened a client's record RC-1001" in everything
    assert "Olive Owner Read the settings (version 1)" in everything
    assert "Olive Owner Added a client RC-1001" in everything

    by_casey = text_of(owner.get("/practice/audit", params={"who": practice.clinician["id"]}).text)
    assert (
        "Opened a client's record" in by_casey
        and "Olive Owner" not in by_casey.split("Client reference")[-1]
    )
    by_client = text_of(owner.get("/practice/audit", params={"client": "RC-1001"}).text)
    assert "Read the settings" not in by_client and "Added a client RC-1001" in by_client
    second_day = text_of(
        owner.get("/practice/audit", params={"from_day": "2026-03-03", "to_day": "2026-03-03"}).text
    )
    assert "Read the settings (version 1)" in second_day
    assert "Added a client" not in second_day

    unknown = owner.get("/practice/audit", params={"client": "RC-9999", "from_day": "2026-03-01"})
    assert unknown.status_code == 422
    assert field_error(unknown.text, "client") == (
        "No client in this practice has the reference RC-9999."
    )
    assert input_value(unknown.text, "client") == "RC-9999"
    assert input_value(unknown.text, "from_day") == "2026-03-01"
    bad = owner.get("/practice/audit", params={"from_day": "2026-03-05", "to_day": "2026-03-01"})
    assert field_error(bad.text, "to_day") == "The last day must be on or after the first."
    owner.close()
