"""A refused form, as a clinician or an owner meets it: each problem in plain words next to
its field and read out with it (its accessible description), by keyboard and by mouse, at
both widths (check_page). Never pydantic's wording ("Input should be a valid UUID...")."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import check_page, tab_to
from tests.support.practice import PracticeFixture
from tests.support.signing_in import sign_in

OWNER_PASSWORD = "correct horse battery"
CLINICIAN_PASSWORD = "another long secret"
PYDANTIC_WORDS = ("Input should", "String should", "Field required", "UUID", "Value error")


def refused(field: Locator, words: str) -> None:
    """The field is marked invalid and its description, as a screen reader reads it, is the
    problem in plain words."""
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(words)


def no_pydantic(page: Page) -> None:
    shown = page.locator("main").inner_text()
    assert not [words for words in PYDANTIC_WORDS if words in shown], shown


def test_the_appointment_form_says_what_to_fix_by_keyboard(
    page: Page, practice: PracticeFixture
) -> None:
    sign_in(page, practice.clinician["email"], CLINICIAN_PASSWORD)
    page.goto("/appointments/new")
    # No client chosen, and a length no session has: typed, then Enter on the button.
    tab_to(page, "Length in minutes")
    page.keyboard.press("Control+A")
    page.keyboard.type("1000")
    tab_to(page, "Add the appointment")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    refused(page.get_by_label("Client"), "Choose a client.")
    refused(page.get_by_label("Length in minutes"), "Enter a whole number between 5 and 480.")
    expect(page.get_by_label("Starts at")).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Length in minutes")).to_have_value("1000")
    no_pydantic(page)
    check_page(page, "appointment-refused-keyboard")

    # Corrected by keyboard: the client chosen, a sensible length; the form is accepted.
    page.get_by_label("Client").focus()
    page.keyboard.press("ArrowDown")
    page.get_by_label("Length in minutes").focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("50")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Added.")


def test_the_appointment_form_says_what_to_fix_by_mouse(
    page: Page, practice: PracticeFixture
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/appointments/new")
    page.get_by_label("Client").select_option(label=practice.client["reference"])
    page.get_by_label("Starts at").fill("")
    page.get_by_label("Length in minutes").fill("2.5")
    page.get_by_role("button", name="Add the appointment").click()
    page.wait_for_load_state()
    refused(
        page.get_by_label("Starts at"),
        "In your time zone, Europe/London. Enter a time, like 09:30.",
    )
    refused(page.get_by_label("Length in minutes"), "Enter a whole number between 5 and 480.")
    expect(page.get_by_label("Client")).not_to_have_attribute("aria-invalid", "true")
    no_pydantic(page)
    check_page(page, "appointment-refused-mouse")


def test_the_new_client_form_says_what_to_fix(page: Page, practice: PracticeFixture) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/clients/new")
    # By keyboard: a reference with spaces and an email that is not one; Enter submits.
    tab_to(page, "Reference")
    page.keyboard.type("has spaces")
    page.keyboard.press("Tab")
    page.keyboard.type("not an email")
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    reference = page.get_by_label("Reference")
    expect(reference).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#reference-error")).to_have_text(
        "Enter a reference of up to 40 letters, digits, dots, dashes or underscores, "
        "starting with a letter or digit."
    )
    refused(page.get_by_label("Client's email"), "Enter an email address, like name@example.com.")
    expect(reference).to_have_value("has spaces")
    no_pydantic(page)
    check_page(page, "client-new-refused-keyboard")

    # By mouse: the reference corrected, the email emptied, no clinician chosen.
    reference.fill("RC-2002")
    page.get_by_label("Client's email").fill("")
    page.get_by_role("button", name="Add the client").click()
    page.wait_for_load_state()
    refused(page.get_by_label("Client's email"), "Enter an email address, like name@example.com.")
    expect(reference).not_to_have_attribute("aria-invalid", "true")
    no_pydantic(page)
    check_page(page, "client-new-refused-mouse")
