"""Signing a person in, the one way each test does it: through the JSON API (log_in) or
through the sign-in page in a browser (sign_in). Pages over plain HTTP sign in with
tests/support/pages.py, which uses log_in."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:  # Playwright is there only where the browser tests run
    from playwright.sync_api import Page


def log_in(http: httpx.Client, email: str, password: str) -> httpx.Response:
    """POST /api/v1/auth/login as it stands: the caller checks the answer (a refusal is
    what some tests are after)."""
    return http.post("/api/v1/auth/login", json={"email": email, "password": password})


def token_of(http: httpx.Client, email: str, password: str) -> str:
    """A bearer token for the account; the sign-in must succeed."""
    answer = log_in(http, email, password)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def sign_in(page: Page, email: str, password: str, path: str = "/login") -> None:
    """Sign in with the page's form, by mouse, from `path` (a /login?next=... stays there)."""
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
