"""The clinician's other pages in every state worth seeing: empty, with data, with a refused
form; each checked with axe-core and photographed at 1280 and 390 px."""

from __future__ import annotations

from datetime import timedelta

import httpx
from playwright.sync_api import Page, expect

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from tests.browser.conftest import check_page
from tests.browser.test_clinician_journey import CASEY, CASEY_PASSWORD
from tests.conftest import START
from tests.integration.test_appointments import make_dip
from tests.support.caseload import add_client, book
from tests.support.practice import PracticeFixture
from tests.support.signing_in import sign_in

OWNER = "owner@harbour.example.com"
OWNER_PASSWORD = "correct horse battery"


def test_a_new_clinicians_pages_before_any_session(page: Page, practice: PracticeFixture) -> None:
    sign_in(page, CASEY, CASEY_PASSWORD)
    expect(page).to_have_url("/sessions")
    expect(page.locator("main")).to_contain_text("No sessions booked in the next seven days.")
    check_page(page, "sessions-empty")

    page.get_by_role("link", name="Clients").click()
    expect(page.get_by_role("link", name="RC-1001")).to_be_visible()
    check_page(page, "clients")
    page.get_by_label("Find by reference").fill("ZZ-9")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("status")).to_have_text(
        "0 clients with “ZZ-9” in their reference. Show all"
    )
    check_page(page, "clients-none-found")
    page.get_by_label("Find by reference").fill("rc-1001")
    page.get_by_role("button", name="Find").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("RC-1001")
    expect(page.locator("main")).to_contain_text("No answers yet.")
    expect(page.locator("main")).to_contain_text("No surveys sent yet")
    check_page(page, "client-empty")

    page.get_by_role("link", name="Email preference").click()
    expect(page.get_by_label("A nudge before each session with an alert")).to_be_checked()
    check_page(page, "preferences")
    # A value the form never offers, as a tampered or stale form would send.
    page.evaluate("document.querySelector('#digest_hour').options[5].value = '25'")
    page.get_by_label("One morning email listing the day's sessions with alerts").check()
    page.get_by_label("Morning email at").select_option(index=5)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose an hour from 00:00 to 23:00.")
    expect(
        page.get_by_label("One morning email listing the day's sessions with alerts")
    ).to_be_checked()
    check_page(page, "preferences-refused")
    page.get_by_label("Morning email at").select_option("8")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved. One email each morning at 08:00.")
    check_page(page, "preferences-saved")


def test_the_week_ahead_with_an_alert_for_the_clinician_and_the_owner(
    page: Page, stack: Stack, api: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, _ = make_dip(stack, api, sink, clock)
    clock.set(START + timedelta(days=1))
    practice.log_in_again()
    calm = add_client(practice, 4)
    book(practice, calm, "calm-next", START + timedelta(days=2, hours=5))

    sign_in(page, CASEY, CASEY_PASSWORD)
    sessions = page.locator("main li.card")
    expect(sessions).to_have_count(2)
    expect(sessions.first).to_contain_text("RC-1001")  # the one with the open alert first
    expect(sessions.first).to_contain_text("Pace: 1 of 5, below your practice's floor of 2")
    expect(sessions.nth(1)).to_contain_text("RC-2004")
    expect(sessions.nth(1)).to_contain_text("No dips since their last session.")
    check_page(page, "sessions")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, OWNER, OWNER_PASSWORD, "/login?next=%2Fsessions")
    expect(page).to_have_url("/sessions")
    expect(page.locator("main li.card").first).to_contain_text("With Casey Clinician")
    check_page(page, "sessions-owner")
    page.get_by_role("link", name="RC-1001").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("RC-1001")
    expect(page.locator("main")).to_contain_text("1 open alert")
    check_page(page, "client-owner")
