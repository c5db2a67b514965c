"""Pages as a person uses them: Debian's Chromium driven by Playwright against the real app
on a loopback port, with the real SMTP sink. Every page a test visits is checked with axe-core
(WCAG 2.2 AA: no serious or critical violation) and photographed at 1280 and 390 px wide
under var/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from services.bootstrap import Stack
from tests.browser.chromium import chromium_path
from tests.support.practice import PracticeFixture, create_practice
from tests.support.server import serving

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = (1280, 390)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Chromium's own background traffic has nowhere to go on this closed network.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    assert path is not None  # browser tests are deselected without one (tests/conftest.py)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_FLAGS
        )
        yield launched
        launched.close()


@pytest.fixture
def site(stack: Stack) -> Iterator[str]:
    with serving(stack.api()) as base_url:
        yield base_url


@pytest.fixture
def api(site: str) -> Iterator[httpx.Client]:
    """The JSON API of the same server: for setting up what a test's pages then show."""
    with httpx.Client(base_url=site, timeout=30) as client:
        yield client


@pytest.fixture
def practice(api: httpx.Client) -> PracticeFixture:
    return create_practice(api)


# Every refusal by a page's Content-Security-Policy (a style, an image, a script it blocked),
# collected in the page for check_page: a refused stylesheet is a page shown unstyled.
RECORD_REFUSALS = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__refused.push(`${event.violatedDirective} refused ${event.blockedURI || "inline"}`);
});
"""


def new_context(browser: Browser, site: str) -> BrowserContext:
    """A fresh browser profile on the site (no cookies), recording its policy's refusals."""
    context = browser.new_context(base_url=site, viewport={"width": 1280, "height": 900})
    context.add_init_script(RECORD_REFUSALS)
    return context


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:
    context = new_context(browser, site)
    opened = context.new_page()
    yield opened
    context.close()


def axe_problems(page: Page) -> list[str]:
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:3])
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page: Page, name: str) -> None:
    """What every visited page must pass, at both widths: its policy refused nothing and its
    stylesheets applied, axe-core finds nothing serious or critical, and nothing is wider
    than the window (no sideways scrolling at 390 px). Screenshots of each width go under
    var/screenshots/ for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # A click's page can show its text before its stylesheet has arrived (a busy machine):
    # the load event comes after both.
    page.wait_for_load_state("load")
    assert page.evaluate("window.__refused") == [], f"{name}: the page's policy refused these"
    styled = page.evaluate(
        "Array.from(document.styleSheets).filter((sheet) => sheet.cssRules.length).length"
    )
    assert styled >= 1, f"{name} has no stylesheet applied"
    original = page.viewport_size or {"width": 1280, "height": 900}
    try:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            problems = axe_problems(page)
            assert not problems, f"{name} at {width}px: {problems}"
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{name} at {width}px is {overflow}px wider than the window"
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    finally:
        page.set_viewport_size(original)


def focused(page: Page) -> str:
    """What the keyboard is on: the focused element's accessible text, for asserting a
    keyboard journey goes where a person expects."""
    return str(
        page.evaluate(
            "() => { const e = document.activeElement; return (e.getAttribute('aria-label') "
            "|| e.labels?.[0]?.innerText || e.innerText || e.value || e.name || '').trim(); }"
        )
    )


def tab_to(page: Page, text: str, limit: int = 60) -> None:
    """Press Tab until the element whose text is `text` has focus, as a keyboard user does."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == text:
            return
    raise AssertionError(f"Tab never reached {text!r}")
