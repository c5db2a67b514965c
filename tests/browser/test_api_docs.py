"""The API documentation in a browser that can reach Attune and nothing else, as in a
locked-down clinic network: both viewers must still show the operations."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, Route, expect


class Offline:
    """What the page tried to fetch from another host (refused), and what the page's
    Content-Security-Policy or its scripts complained about."""

    def __init__(self, page: Page, site: str) -> None:
        self.own_host = urlsplit(site).netloc
        self.foreign: list[str] = []
        self.complaints: list[str] = []
        page.route("**/*", self._only_attune)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.complaints.append(str(error)))

    def _only_attune(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.own_host:
            route.continue_()
        else:
            self.foreign.append(url)
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        # A refusal by the page's Content-Security-Policy (Redoc's CDN logo, once) is one.
        if message.type == "error":
            self.complaints.append(message.text)

    def check(self) -> None:
        assert not self.foreign, f"asked another host for {self.foreign}"
        assert not self.complaints, self.complaints


@pytest.fixture
def offline(page: Page, site: str) -> Iterator[Offline]:
    watching = Offline(page, site)
    yield watching
    watching.check()


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_swagger_ui_shows_the_operations_offline(page: Page, offline: Offline, path: str) -> None:
    page.goto(path)
    booking = page.locator(".opblock", has_text="Book an appointment")
    expect(booking).to_be_visible(timeout=20_000)
    # The operations are there to read: opening one shows its description and its example.
    booking.locator(".opblock-summary").click()
    expect(booking.get_by_text("safe to repeat", exact=False).first).to_be_visible()
    expect(booking.get_by_text("visit-20260309-0900", exact=False).first).to_be_visible()


def test_redoc_shows_the_operations_offline(page: Page, offline: Offline) -> None:
    page.goto("/schema/redoc")
    expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Book a session for a client").first).to_be_visible()
    # An operation anyone may call shows no credentials to send; a signed-in one does.
    expect(page.locator('[id="operation/bookAppointment"]')).to_contain_text("Authorizations")
    for public in ("logIn", "signUp", "showSurvey", "checkReady"):
        operation = page.locator(f'[id="operation/{public}"]')
        expect(operation).to_be_attached()
        expect(operation).not_to_contain_text("Authorizations")
    # Search runs in a worker (worker-src blob: in the page's policy).
    page.get_by_role("textbox", name="Search").fill("external id")
    expect(
        page.get_by_role("search").get_by_text("Read an appointment by the scheduling")
    ).to_be_visible()
