"""The owner's pages in a real browser: the journey of changing a threshold (sign in, change
it, preview the counts, save, see the history say what changed) by mouse and by keyboard
alone, and every owner page in each state worth seeing, checked by axe-core at both widths."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from playwright.sync_api import Page, expect

from services.bootstrap import Stack
from shared.models import Notification, NotificationKind, NotificationStatus
from tests.browser.conftest import check_page, focused, tab_to
from tests.conftest import START
from tests.support.history import FIVE, answered_session, unanswered_session
from tests.support.practice import PracticeFixture, add_clinician_with_client
from tests.support.signing_in import sign_in

OWNER_PASSWORD = "correct horse battery"


@pytest.fixture
def history(stack: Stack, practice: PracticeFixture) -> PracticeFixture:
    """Two clinicians' clients over the last two months, evaluated by the real rules: RC-1001
    drops below their usual (pace at 3), SC-2002 answers a low mean and misses a survey."""
    casey, robin = UUID(practice.clinician["id"]), UUID(practice.client["id"])
    drew, sam = (UUID(x) for x in add_clinician_with_client(practice))
    pid = UUID(practice.practice_id)
    for days_ago in (60, 53, 46, 39):
        answered_session(stack.db, pid, robin, casey, at=START - timedelta(days=days_ago))
    answered_session(
        stack.db,
        pid,
        robin,
        casey,
        at=START - timedelta(days=20),
        scores=FIVE | {"honest": 4, "respected": 4, "pace": 3},
    )
    answered_session(
        stack.db,
        pid,
        sam,
        drew,
        at=START - timedelta(days=10),
        scores={"honest": 3, "disagree": 4, "respected": 4, "input": 4, "pace": 4},
    )
    unanswered_session(stack.db, pid, sam, drew, at=START - timedelta(days=5))
    return practice


def test_the_owner_changes_a_threshold_previews_it_saves_it_and_reads_the_history(
    page: Page, history: PracticeFixture
) -> None:
    sign_in(page, history.owner["email"], OWNER_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Your practice")
    check_page(page, "owner-figures")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    check_page(page, "owner-settings")
    low_item = page.get_by_role("group", name="Low item")
    expect(low_item).to_contain_text(
        "Flags a session when any one item is answered at or below 2 out of 5."
    )
    low_item.get_by_label("Floor").fill("3")
    page.get_by_role("button", name="Preview").click()

    preview = page.get_by_role("region", name="Preview: the last 30 days")
    expect(preview.get_by_role("status")).to_contain_text(
        "Your current settings would have raised 2 alerts; these would have raised 2."
    )
    rules = preview.get_by_role("table", name="Alerts per rule")
    expect(rules.get_by_role("row", name="Low item")).to_have_text("Low item02")
    per_clinician = preview.get_by_role("table", name="Alerts per clinician")
    expect(per_clinician.get_by_role("row", name="Drew Clinician")).to_have_text("Drew Clinician11")
    expect(low_item.get_by_label("Floor")).to_have_value("3")
    check_page(page, "owner-settings-preview")

    # A value the rules refuse: shown next to its field, everything else kept.
    page.get_by_label("Sender name clients see").fill("Harbour feedback")
    low_item.get_by_label("Floor").fill("5")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("1 setting needs a second look")
    expect(low_item.locator(".field-error")).to_contain_text("would flag every answer")
    expect(low_item.get_by_label("Floor")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Sender name clients see")).to_have_value("Harbour feedback")
    check_page(page, "owner-settings-refused")

    low_item.get_by_label("Floor").fill("3")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/practice/settings/history?saved=2")
    expect(page.get_by_role("status")).to_have_text("Saved. Your settings are now version 2.")
    newest = page.locator("#version-2")
    expect(newest).to_contain_text("Saved by Olive Owner")
    expect(newest.get_by_role("listitem")).to_have_text(
        ["Low item floor: 2 → 3", "Sender name: “Session feedback” → “Harbour feedback”"]
    )
    check_page(page, "owner-settings-history")


def test_the_same_journey_by_keyboard_alone(page: Page, history: PracticeFixture) -> None:
    page.goto("/login")
    tab_to(page, "Email")
    page.keyboard.type(history.owner["email"])
    page.keyboard.press("Tab")
    page.keyboard.type(OWNER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/practice")

    tab_to(page, "Settings")
    page.keyboard.press("Enter")
    page.wait_for_url("**/practice/settings")
    tab_to(page, "Floor")  # the first rule's: the low item floor
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    tab_to(page, "Preview", limit=150)
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Preview: the last 30 days")).to_contain_text(
        "these would have raised 2"
    )

    tab_to(page, "Save", limit=150)
    page.keyboard.press("Enter")
    page.wait_for_url("**/practice/settings/history?saved=2")
    expect(page.locator("#version-2").get_by_role("listitem")).to_have_text(
        ["Low item floor: 2 → 3"]
    )
    # The skip link leads past the navigation to the page's own content.
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"


def test_the_figures_page_with_no_data_and_with_a_refused_period(
    page: Page, practice: PracticeFixture
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    expect(page.get_by_role("table", name="Repair rate per suggested move")).to_be_visible()
    expect(page.locator("main")).to_contain_text("no data")
    check_page(page, "owner-figures-empty")

    page.get_by_label("From", exact=True).fill("2026-02-10")
    page.get_by_label("To", exact=True).fill("2026-02-01")
    page.get_by_role("button", name="Show figures").click()
    expect(page.locator("#last_day-error")).to_have_text(
        "The range must end on or after the day it starts."
    )
    expect(page.get_by_label("From", exact=True)).to_have_value("2026-02-10")
    check_page(page, "owner-figures-refused")


def test_the_emails_page_empty_and_with_a_failed_email(
    page: Page, stack: Stack, practice: PracticeFixture
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.get_by_role("link", name="Emails").click()
    expect(page.get_by_role("status")).to_have_text(
        "Every email so far has gone through. Nothing needs your attention."
    )
    check_page(page, "owner-emails-empty")

    # The rows a refused delivery leaves (tests/integration/test_owner_pages.py drives a real
    # refusing SMTP server; here only what the page shows of them matters).
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        for kind, status, error in (
            (
                NotificationKind.SURVEY,
                NotificationStatus.FAILED,
                "550 5.1.1 <r***@harbour.example.com>: Recipient address rejected",
            ),
            (NotificationKind.NUDGE, NotificationStatus.PENDING, "451 4.3.0 Try again later"),
        ):
            session.add(
                Notification(
                    practice_id=UUID(practice.practice_id),
                    key=f"{kind}:{uuid4()}",
                    kind=kind,
                    subject_id=uuid4(),
                    status=status,
                    attempts=1,
                    next_attempt_at=START + timedelta(minutes=10),
                    last_error=error,
                    created_at=START - timedelta(hours=1),
                )
            )
    page.reload()
    table = page.get_by_role("table", name="Failed and retrying emails")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text("Survey to a client")
    expect(table).to_contain_text("Not delivered")
    expect(table).to_contain_text("Trying again 2 Mar, 09:10")
    check_page(page, "owner-emails")


def test_the_audit_log_with_filters_and_a_refused_filter(
    page: Page, practice: PracticeFixture
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.get_by_role("link", name="Audit log").click()
    table = page.get_by_role("table", name="Audit log entries")
    expect(table).to_contain_text("Added a client")
    check_page(page, "owner-audit")

    page.get_by_label("Who").select_option(label="Olive Owner")
    page.get_by_label("Client reference").fill("RC-1001")
    page.get_by_role("button", name="Show entries").click()
    expect(table.get_by_role("row")).to_have_count(2)
    expect(table).to_contain_text("Olive Owner")
    expect(table).to_contain_text("RC-1001")
    check_page(page, "owner-audit-filtered")

    page.get_by_label("Client reference").fill("RC-9999")
    page.get_by_role("button", name="Show entries").click()
    expect(page.locator("#client-error")).to_have_text(
        "No client in this practice has the reference RC-9999."
    )
    expect(page.get_by_label("Who")).to_have_value(practice.owner["id"])
    check_page(page, "owner-audit-refused")
