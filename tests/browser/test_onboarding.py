"""A practice gets going in a real browser: sign-up and the first-run checklist, clinicians
and their invitations, API keys, appointments by hand, adding a client and the owner's
actions on one. Every page and state is checked with axe and photographed (check_page)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from uuid import UUID

from playwright.sync_api import Page, expect

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.survey.opt_out import opt_out
from tests.browser.conftest import check_page, focused, new_context, tab_to
from tests.conftest import START
from tests.support.loop import addressed_to, links, settle, tick_and_settle
from tests.support.practice import PracticeFixture
from tests.support.signing_in import sign_in

OWNER_PASSWORD = "correct horse battery"
CLINICIAN_PASSWORD = "another long secret"


def test_a_new_practice_signs_up_by_keyboard_and_lands_on_its_checklist(page: Page) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Set up your practice").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your practice")
    check_page(page, "signup")

    # Nothing typed but a practice name: every other problem is shown next to its field.
    page.get_by_label("Practice name").fill("Thames Counselling")
    page.get_by_label("Your email").fill("not an email")
    page.get_by_role("button", name="Set up my practice").click()
    expect(page.locator("#owner_name-error")).to_be_visible()
    expect(page.locator("#owner_email-error")).to_contain_text("email")
    expect(page.locator("#password-error")).to_have_text(
        "Choose a password of 10 to 200 characters."
    )
    expect(page.get_by_label("Practice name")).to_have_value("Thames Counselling")
    assert page.get_by_label("Your email").get_attribute("aria-invalid") == "true"
    check_page(page, "signup-refused")

    # The rest by keyboard alone.
    page.get_by_label("Practice name").focus()
    page.keyboard.press("Tab")
    assert focused(page) == "Your name"
    page.keyboard.type("Morgan Owner")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("morgan@thames.example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("a long enough secret")
    page.keyboard.press("Tab")
    assert focused(page).startswith("Your practice's time zone")
    page.get_by_label("Your practice's time zone").select_option("Europe/London")
    page.keyboard.press("Tab")
    page.keyboard.type("Call Samaritans free on 116 123, or 999 in an emergency (UK).")
    tab_to(page, "Set up my practice")
    page.keyboard.press("Enter")

    page.wait_for_url("**/welcome?notice=new")
    expect(page.get_by_role("status")).to_contain_text("Your practice is set up")
    expect(page.get_by_text("4 of 4 steps to go.")).to_be_visible()
    expect(page.locator(".checklist .pill.ok")).to_have_count(0)
    check_page(page, "welcome-new")
    # Signed in as the new owner: the owner's navigation is there.
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Clinicians")


def test_the_checklist_marks_steps_done_from_real_data(
    page: Page, practice: PracticeFixture
) -> None:
    """The fixture practice has a clinician, a client and an API key, but no appointment and
    no look at the settings yet."""
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/welcome")
    steps = page.locator(".checklist > li")
    expect(steps).to_have_count(4)
    expect(steps.nth(0)).to_contain_text("Done")
    expect(steps.nth(1)).to_contain_text("Done")
    expect(steps.nth(2)).to_contain_text("Not done yet")
    expect(steps.nth(2)).to_contain_text("An API key is ready")
    expect(steps.nth(3)).to_contain_text("Not done yet")
    check_page(page, "welcome-halfway")

    practice.book("first", START + timedelta(days=7))
    practice.http.get("/api/v1/settings", headers=practice.as_owner())
    page.reload()
    expect(page.get_by_text("All set: your practice is ready.")).to_be_visible()
    expect(steps.nth(2)).to_contain_text("1 appointment so far.")
    check_page(page, "welcome-done")


def test_the_owner_invites_a_clinician_who_joins_signed_in(
    page: Page, practice: PracticeFixture, stack: Stack, sink: MailSink, site: str
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/practice/clinicians")
    expect(page.get_by_role("row", name=re.compile("Casey Clinician"))).to_contain_text("Active")
    check_page(page, "clinicians")

    page.get_by_label("Name").fill("Jo Newcomer")
    page.get_by_label("Email").fill("casey@harbour.example.com")  # taken
    page.get_by_role("button", name="Add and send the invitation").click()
    expect(page.locator("#email-error")).to_have_text("An account with this email already exists.")
    expect(page.get_by_label("Name")).to_have_value("Jo Newcomer")
    check_page(page, "clinicians-refused")

    page.get_by_label("Email").fill("jo@harbour.example.com")
    page.get_by_label("Their time zone").select_option("Europe/Dublin")
    page.get_by_role("button", name="Add and send the invitation").click()
    expect(page.get_by_role("status")).to_contain_text("An invitation to choose a password")
    jo_row = page.get_by_role("row", name=re.compile("Jo Newcomer"))
    expect(jo_row).to_contain_text("Invited, not accepted yet")
    expect(jo_row).to_contain_text("Europe/Dublin")
    check_page(page, "clinicians-invited")

    # Lost the first email: send it again; only the newest link works.
    page.get_by_role("button", name="Send the invitation again to Jo Newcomer").click()
    expect(page.get_by_role("status")).to_contain_text("A new invitation is on its way")
    settle(stack)
    invitations = addressed_to(sink, "jo@harbour.example.com")
    assert len(invitations) == 2
    newest = max(invitations, key=lambda m: m["Date"])
    join_links = [x for x in links(newest) if "/account/join/" in x]
    assert join_links, "the invitation has a join link"
    path = join_links[0].removeprefix("http://attune.test")

    with new_context(page.context.browser, site) as jo_browser:  # type: ignore[arg-type]
        jo = jo_browser.new_page()
        jo.goto(path)
        expect(jo.get_by_role("heading", level=1)).to_have_text("Set up your Attune account")
        check_page(jo, "join")
        jo.get_by_label("New password").fill("jo's own long secret")
        jo.get_by_label("The same again").fill("jo's own long secret")
        jo.get_by_role("button", name="Set my password").click()
        # Ends signed in, on the clinician's home page.
        jo.wait_for_url("**/sessions")
        expect(jo.get_by_role("navigation", name="Main")).to_contain_text("Before your sessions")
        # The link is spent.
        jo.goto(path)
        expect(jo.get_by_role("heading", level=1)).to_have_text("This link")
        expect(jo.locator("main")).to_contain_text("already used")

        page.reload()
        expect(jo_row).to_contain_text("Active")
        page.get_by_role("button", name="Deactivate Jo Newcomer").click()
        expect(page.get_by_role("status")).to_contain_text("Deactivated")
        expect(jo_row).to_contain_text("Deactivated")
        check_page(page, "clinicians-deactivated")
        # Jo is signed out at once.
        jo.goto("/sessions")
        expect(jo).to_have_url(re.compile(r"/login\?next=%2Fsessions$"))

        page.get_by_role("button", name="Reactivate Jo Newcomer").click()
        expect(page.get_by_role("status")).to_contain_text("Reactivated")
        expect(jo_row).to_contain_text("Active")
        sign_in(jo, "jo@harbour.example.com", "jo's own long secret")
        assert jo.url.endswith("/sessions")

    audit = practice.http.get(
        "/api/v1/audit-events", headers=practice.as_owner(), params={"limit": 200}
    ).json()
    actions = [event["action"] for event in (audit if isinstance(audit, list) else audit["items"])]
    for action in (
        "clinician.added",
        "clinician.invited",
        "clinician.deactivated",
        "clinician.reactivated",
    ):
        assert action in actions


def test_the_reset_page_ends_with_a_way_to_sign_in(
    page: Page, practice: PracticeFixture, stack: Stack, sink: MailSink
) -> None:
    page.goto("/forgot-password")
    page.get_by_label("Email").fill(practice.clinician["email"])
    page.get_by_role("button", name="Send me a link").click()
    settle(stack)
    reset = addressed_to(sink, practice.clinician["email"])[-1]
    path = next(x for x in links(reset) if "/account/reset/" in x).removeprefix(
        "http://attune.test"
    )
    page.goto(path)
    check_page(page, "reset")
    # By keyboard, as someone coming from their mail client would.
    tab_to(page, "New password (at least 10 characters)")
    page.keyboard.type("a brand new secret")
    page.keyboard.press("Tab")
    assert focused(page) == "The same again"
    page.keyboard.type("a brand new secret")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Done")
    check_page(page, "reset-done")
    tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Attune")
    page.get_by_label("Email").fill(practice.clinician["email"])
    page.get_by_label("Password").fill("a brand new secret")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/sessions")


def test_api_keys_by_keyboard_shown_once_revoked_and_last_used(
    page: Page, practice: PracticeFixture, clock: ManualClock
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/practice/api-keys")
    expect(page.get_by_role("row", name=re.compile("scheduler"))).to_contain_text("Never")
    check_page(page, "api-keys")

    tab_to(page, "Name")
    page.keyboard.press("Enter")  # nothing typed
    expect(page.locator("#name-error")).to_be_visible()
    check_page(page, "api-keys-refused")

    tab_to(page, "Name")
    page.keyboard.type("Front desk calendar")
    page.keyboard.press("Enter")
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("ak_")
    check_page(page, "api-keys-created")
    # The key works for the scheduling calls, and the page then says when it was used.
    clock.advance(timedelta(minutes=5))
    used = practice.http.get(f"/api/v1/clients/{practice.client['id']}", headers={"X-API-Key": key})
    assert used.status_code == 200, used.text
    page.goto("/practice/api-keys")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once only
    row = page.get_by_role("row", name=re.compile("Front desk calendar"))
    expect(row).to_contain_text("Mon 2 Mar 2026, 09:05")

    tab_to(page, "Revoke Front desk calendar")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Revoked")
    expect(row).to_contain_text("Revoked")
    check_page(page, "api-keys-revoked")
    refused = practice.http.get(
        f"/api/v1/clients/{practice.client['id']}", headers={"X-API-Key": key}
    )
    assert refused.status_code == 401


def test_a_clinician_adds_an_appointment_by_hand_and_marks_it_completed(
    page: Page, practice: PracticeFixture, stack: Stack, sink: MailSink, clock: ManualClock
) -> None:
    sign_in(page, practice.clinician["email"], CLINICIAN_PASSWORD)
    page.get_by_role("link", name="Add an appointment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an appointment")
    expect(page.get_by_text("No appointments from a week ago")).to_be_visible()
    check_page(page, "appointment-new")

    page.get_by_role("button", name="Add the appointment").click()  # no client chosen
    expect(page.locator("#client_id-error")).to_be_visible()
    check_page(page, "appointment-refused")

    page.get_by_label("Client").select_option(label="RC-1001")
    page.get_by_label("Day").fill("2026-03-02")
    page.get_by_label("Starts at").fill("08:00")  # London: 08:00 UTC, an hour ago
    page.get_by_label("Length in minutes").fill("50")
    page.get_by_role("button", name="Add the appointment").click()
    expect(page.get_by_role("status")).to_contain_text("Added")
    row = page.get_by_role("row", name=re.compile("RC-1001"))
    expect(row).to_contain_text("Mon 2 Mar 2026, 08:00")
    expect(row).to_contain_text("Booked")
    check_page(page, "appointment-listed")

    row.get_by_role("button", name=re.compile("^Completed")).click()
    expect(page.get_by_role("status")).to_contain_text("Marked as completed")
    expect(row).to_contain_text("Completed")
    # The real loop follows: the survey goes out after the practice's delay.
    clock.advance(timedelta(minutes=61))
    tick_and_settle(stack)
    assert addressed_to(sink, practice.client["email"]), "the survey went out"


def test_the_owner_adds_a_client_and_manages_them(
    page: Page, practice: PracticeFixture, stack: Stack, clock: ManualClock
) -> None:
    sign_in(page, practice.owner["email"], OWNER_PASSWORD)
    page.goto("/clients/new")
    check_page(page, "client-new")
    page.get_by_label("Reference").fill("RC-1001")  # taken
    page.get_by_label("Client's email").fill("kit.client@harbour.example.com")
    page.get_by_label("Clinician").select_option(label="Casey Clinician")
    page.get_by_role("button", name="Add the client").click()
    expect(page.locator("#reference-error")).to_contain_text("already has a client")
    expect(page.get_by_label("Client's email")).to_have_value("kit.client@harbour.example.com")
    check_page(page, "client-new-refused")

    page.get_by_label("Reference").fill("RC-1002")
    page.get_by_role("button", name="Add the client").click()
    page.wait_for_url(re.compile(r"/clients/[0-9a-f-]{36}$"))
    client_id = page.url.rsplit("/", 1)[1]

    # The client opts out (their one-click link), so the owner may turn invitations back on.
    with stack.db.transaction(UUID(practice.practice_id)) as session:
        opt_out(session, UUID(client_id), now=clock.now())

    page.goto(f"/clients/{client_id}/manage")
    expect(page.get_by_role("heading", name="Invitations are stopped")).to_be_visible()
    check_page(page, "client-manage")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download RC-1002's data").click()
    exported = json.loads(open(download.value.path()).read())  # noqa: SIM115
    assert exported["client"]["reference"] == "RC-1002"

    page.get_by_role("button", name="Turn invitations back on").click()
    expect(page.locator("#reason-error")).to_have_text("Say why invitations are turned back on.")
    page.get_by_label("Type RC-1002 to confirm").fill("RC-1001")  # kept apart from this refusal
    check_page(page, "client-resume-refused")
    page.get_by_label("Why are invitations turned back on?").fill(
        "Asked in session to get the surveys again."
    )
    page.get_by_role("button", name="Turn invitations back on").click()
    expect(page.get_by_role("status")).to_contain_text("Invitations are on again")
    expect(page.get_by_role("heading", name="Invitations are stopped")).to_have_count(0)

    page.get_by_label("Type RC-1002 to confirm").fill("RC-1001")
    page.get_by_role("button", name="Erase RC-1002").click()
    expect(page.locator("#confirm-error")).to_contain_text("Type the client's reference, RC-1002")
    expect(page.get_by_label("Type RC-1002 to confirm")).to_have_value("RC-1001")
    check_page(page, "client-erase-refused")
    page.get_by_label("Type RC-1002 to confirm").fill("RC-1002")
    page.get_by_role("button", name="Erase RC-1002").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("RC-1002 is erased")
    check_page(page, "client-erased")
    gone = practice.http.get(f"/api/v1/clients/{client_id}", headers=practice.as_owner())
    assert gone.status_code == 404
