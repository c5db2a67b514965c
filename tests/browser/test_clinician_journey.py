"""A clinician's whole job in a real browser: the nudge email arrives in the SMTP sink, its
link opens the sign-in page, signing in lands on the alert, the clinician marks it addressed
with the move they used, the client answers the next survey through its real link, and the
alert page says whether the alliance recovered. Once by mouse, once by keyboard alone; every
page and state checked with axe-core and photographed at 1280 and 390 px."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, expect

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from tests.browser.conftest import check_page, focused, tab_to
from tests.conftest import START
from tests.integration.test_appointments import make_dip
from tests.support.loop import addressed_to, body, links, tick_and_settle
from tests.support.practice import PracticeFixture

CASEY = "casey@harbour.example.com"
CASEY_PASSWORD = "another long secret"
STEADY = {"honest": "4", "disagree": "4", "respected": "5", "input": "4", "pace": "4"}


def nudge_arrives(
    stack: Stack, api: httpx.Client, sink: MailSink, clock: ManualClock
) -> tuple[PracticeFixture, str]:
    """A low answer raises an alert; at the nudge's due time the email arrives. Returns the
    practice and the path of the email's "Open the alert" link."""
    practice, _ = make_dip(stack, api, sink, clock)
    clock.set(START + timedelta(days=6, seconds=1))
    tick_and_settle(stack)
    [nudge] = addressed_to(sink, CASEY)
    text = body(nudge, "plain")
    assert "RC-1001" in text and "1 of 5" not in text  # a reference and a move, no scores
    [alert_link] = [link for link in links(nudge) if "/alerts/" in link]
    return practice, urlsplit(alert_link).path


def client_answers_next_survey(
    page: Page, practice: PracticeFixture, stack: Stack, sink: MailSink, clock: ManualClock
) -> None:
    """The nudged session happens; its survey email comes; the client opens its link in a
    browser and answers, steadier than last time."""
    clock.set(START + timedelta(days=7, hours=1))
    practice.log_in_again()
    practice.complete("visit-2")
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    survey = addressed_to(sink, practice.client["email"])[-1]
    link = next(x for x in links(survey) if "/s/" in x and "?" not in x)
    page.goto(urlsplit(link).path)
    for key, value in STEADY.items():
        page.check(f"input[name={key}][value='{value}']")
    page.get_by_role("button", name="Send my answers").click()
    expect(page.locator("main")).to_contain_text("Thank you")
    tick_and_settle(stack)


def test_the_clinicians_journey_from_nudge_email_to_recovery(
    page: Page, stack: Stack, api: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, alert_path = nudge_arrives(stack, api, sink, clock)

    page.goto(alert_path)  # signed out: the sign-in page, then back here
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Attune")
    page.get_by_label("Email").fill(CASEY)
    page.get_by_label("Password").fill(CASEY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(alert_path)
    expect(page.get_by_role("heading", level=1)).to_have_text("A dip for RC-1001")
    evidence = page.get_by_role("region", name="What the answers showed")
    expect(evidence).to_contain_text("Pace: 1 of 5, below your practice's floor of 2")
    expect(evidence).to_contain_text("Overall 1.4, below your practice's line of 4")
    expect(
        page.get_by_role("img", name="RC-1001: answers over their last sessions")
    ).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Waiting for their first answer")
    check_page(page, "alert-open")

    page.get_by_role("button", name="Mark as addressed").click()  # no move chosen
    expect(page.get_by_role("alert")).to_contain_text("Choose the move you used.")
    check_page(page, "alert-refused")

    page.get_by_label("Address the relationship directly").check()
    page.get_by_label("Private note (optional)").fill("Named last week's rush; they agreed.")
    page.get_by_role("button", name="Mark as addressed").click()
    expect(page.get_by_role("region", name="Mark as addressed")).to_contain_text(
        "using “Address the relationship directly”"
    )
    expect(page.locator("main")).to_contain_text("Named last week's rush; they agreed.")
    check_page(page, "alert-addressed")

    client_answers_next_survey(page, practice, stack, sink, clock)

    page.goto(alert_path)  # a day later the sign-in has ended (8 h at most): sign in again
    page.get_by_label("Email").fill(CASEY)
    page.get_by_label("Password").fill(CASEY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(alert_path)
    outcome = page.get_by_role("region", name="Did the alliance recover?")
    expect(outcome).to_contain_text("Recovered: overall 4.2 next time, back to 4.0 or above.")
    check_page(page, "alert-recovered")

    # The client's page: the move that helped comes first next time.
    page.get_by_role("link", name="RC-1001's record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("RC-1001")
    expect(page.locator("main")).to_contain_text(
        "What helped before with RC-1001: Address the relationship directly."
    )
    expect(page.get_by_role("table").first).to_contain_text("4.2")
    check_page(page, "client")


def test_the_same_journey_by_keyboard_alone(
    page: Page, stack: Stack, api: httpx.Client, sink: MailSink, clock: ManualClock
) -> None:
    practice, alert_path = nudge_arrives(stack, api, sink, clock)

    page.goto(alert_path)
    sign_in_by_keyboard(page)
    page.wait_for_url(f"**{alert_path}")

    # The moves are one radio group: one Tab stop, arrow keys choose within it.
    tab_to(page, "Address the relationship directly")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    assert focused(page) == "Slow the pace"
    assert page.get_by_label("Slow the pace").is_checked()
    page.keyboard.press("Tab")
    assert focused(page) == "Private note (optional)"
    page.keyboard.type("Checked in about pace first.")
    tab_to(page, "Mark as addressed")
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Mark as addressed")).to_contain_text(
        "using “Slow the pace”"
    )

    client_answers_next_survey(page, practice, stack, sink, clock)
    page.goto(alert_path)
    sign_in_by_keyboard(page)
    page.wait_for_url(f"**{alert_path}")
    expect(page.get_by_role("region", name="Did the alliance recover?")).to_contain_text(
        "Recovered"
    )
    # Onward by keyboard: the skip link, then the nav to the client list.
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to main content"
    tab_to(page, "Clients")
    page.keyboard.press("Enter")
    page.wait_for_url("**/clients")
    tab_to(page, "Find by reference")
    page.keyboard.type("RC-1001")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("RC-1001")


def sign_in_by_keyboard(page: Page) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Attune")
    tab_to(page, "Email")
    page.keyboard.type(CASEY)
    page.keyboard.press("Tab")
    page.keyboard.type(CASEY_PASSWORD)
    page.keyboard.press("Enter")
