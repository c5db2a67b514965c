"""Signing in and out in a real browser, by mouse and by keyboard."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import check_page, focused, tab_to
from tests.support.practice import PracticeFixture

OWNER_PASSWORD = "correct horse battery"


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back_to_the_page_asked_for(
    page: Page, practice: PracticeFixture
) -> None:
    page.goto("/practice?first_day=2026-01-01")
    expect(page).to_have_url("/login?next=%2Fpractice%3Ffirst_day%3D2026-01-01")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Attune")
    check_page(page, "sign-in")

    page.get_by_label("Email").fill(practice.owner["email"])
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Email or password is not right.")
    # The typed email stays; the password does not.
    expect(page.get_by_label("Email")).to_have_value(practice.owner["email"])
    expect(page.get_by_label("Password")).to_have_value("")
    check_page(page, "sign-in-refused")

    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/practice?first_day=2026-01-01")


def test_sign_in_and_out_by_keyboard_alone(page: Page, practice: PracticeFixture) -> None:
    page.goto("/login")
    tab_to(page, "Email")
    page.keyboard.type(practice.owner["email"])
    page.keyboard.press("Tab")
    assert focused(page) == "Password"
    page.keyboard.type(OWNER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/practice")
    tab_to(page, "Sign out")
    page.keyboard.press("Enter")
    page.wait_for_url("**/login?notice=signed-out")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    # The session is over on the server, not only forgotten by the browser.
    page.goto("/practice")
    expect(page).to_have_url("/login?next=%2Fpractice")


def test_a_form_posted_from_another_site_is_refused(page: Page, practice: PracticeFixture) -> None:
    """The sign-in form without its anti-forgery field: what a hostile page would post."""
    page.goto("/login")
    page.evaluate("document.querySelector('input[name=_csrf_token]').remove()")
    page.get_by_label("Email").fill(practice.owner["email"])
    page.get_by_label("Password").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("anti-forgery token")


def test_forgot_password_sends_the_reset_link(page: Page, practice: PracticeFixture) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    check_page(page, "forgot-password")
    page.get_by_label("Email").fill(practice.owner["email"])
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text("a link to choose a new password")
