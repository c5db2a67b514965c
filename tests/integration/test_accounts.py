"""Accounts: sign-in cookies and bearer tokens, CSRF, sign-out, expiry, and the emailed
single-use links for a password reset and a clinician's invitation."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.logging import configure_logging
from shared.models import AccountLink, ApiKey
from shared.security import hash_token
from tests.support.inspection import everything
from tests.support.loop import addressed_to, body, links
from tests.support.practice import PracticeFixture
from tests.support.signing_in import log_in

OWNER_PASSWORD = "correct horse battery"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", stream=stream)
    yield stream
    configure_logging("WARNING")


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


def test_login_gives_a_bearer_token_and_a_locked_down_cookie(
    http: httpx.Client, practice: PracticeFixture
) -> None:
    response = log_in(http, practice.owner["email"], OWNER_PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]
    cookies = _set_cookies(response)
    session_cookie = cookies["attune_session"].lower()
    for attribute in ("httponly", "secure", "samesite=strict", "max-age=28800", "path=/"):
        assert attribute in session_cookie
    assert "httponly" not in cookies["attune_csrf"].lower()
    assert "secure" in cookies["attune_csrf"].lower()
    assert http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    wrong = log_in(http, practice.owner["email"], "not the password at all")
    assert wrong.status_code == 401
    nobody = log_in(http, "nobody@harbour.example.com", "not the password at all")
    assert (nobody.status_code, nobody.json()["detail"]) == (401, wrong.json()["detail"])


def test_a_cookie_session_needs_the_csrf_header_for_changes(
    stack: Stack, http: httpx.Client, practice: PracticeFixture
) -> None:
    logged_in = log_in(http, practice.owner["email"], OWNER_PASSWORD).json()
    base = str(http.base_url)
    # A fresh client that holds the cookies the sign-in set, as a browser does; a hostile
    # page can make the browser send them, but cannot read them to set the header.
    with httpx.Client(base_url=base) as browser:
        browser.cookies.set("attune_session", logged_in["token"])
        browser.cookies.set("attune_csrf", logged_in["csrf_token"])
        assert browser.get("/api/v1/me").status_code == 200
        forged = browser.post("/api/v1/api-keys", json={"name": "forged"})
        assert forged.status_code == 403
        assert "x-csrf-token" in forged.json()["detail"]
        wrong = browser.post(
            "/api/v1/api-keys", json={"name": "forged"}, headers={"X-CSRF-Token": "0" * 64}
        )
        assert wrong.status_code == 403
        made = browser.post(
            "/api/v1/api-keys",
            json={"name": "from the page"},
            headers={"X-CSRF-Token": logged_in["csrf_token"]},
        )
        assert made.status_code == 201, made.text
    keys = http.get("/api/v1/api-keys", headers=practice.as_owner()).json()
    # Both made at the same instant of the test's clock: their order between them is not set.
    assert sorted(k["name"] for k in keys) == ["from the page", "scheduler"]
    # Bearer and API-key callers set their header on purpose: no CSRF token needed.
    assert (
        http.post(
            "/api/v1/api-keys", json={"name": "by bearer"}, headers=practice.as_owner()
        ).status_code
        == 201
    )


def test_logout_revokes_the_session_and_sessions_expire(
    http: httpx.Client, practice: PracticeFixture, clock: ManualClock
) -> None:
    token = log_in(http, practice.owner["email"], OWNER_PASSWORD).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    out = http.post("/api/v1/auth/logout", headers=bearer)
    assert out.status_code == 204
    assert (
        'attune_session=""' in out.headers.get("set-cookie", "")
        or "max-age=0" in out.headers.get("set-cookie", "").lower()
    )
    assert http.get("/api/v1/me", headers=bearer).status_code == 401

    # In use all day: the absolute limit (8 h) still ends it.
    again = log_in(http, practice.owner["email"], OWNER_PASSWORD).json()["token"]
    other = {"Authorization": f"Bearer {again}"}
    for _ in range(23):
        clock.advance(timedelta(minutes=20))
        assert http.get("/api/v1/me", headers=other).status_code == 200
    clock.advance(timedelta(minutes=19))
    assert http.get("/api/v1/me", headers=other).status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = http.get("/api/v1/me", headers=other)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def _only_link(stack: Stack, sink: MailSink, address: str, path: str) -> tuple[str, str]:
    stack.settle()
    emails = addressed_to(sink, address)
    assert len(emails) == 1, [str(e["Subject"]) for e in emails]
    email = emails[0]
    assert email.get_body(preferencelist=("plain",)) is not None
    found = [link for link in links(email) if f"/account/{path}/" in link]
    assert len(found) == 1
    assert found[0] in body(email, "plain")
    return found[0].removeprefix("http://attune.test"), str(email["Subject"])


def test_password_reset_by_single_use_link(
    stack: Stack,
    http: httpx.Client,
    sink: MailSink,
    clock: ManualClock,
    practice: PracticeFixture,
    captured_logs: io.StringIO,
) -> None:
    owner_email = practice.owner["email"]
    old_session = practice.as_owner()
    asked = http.post("/api/v1/auth/password-reset", json={"email": owner_email.upper()})
    unknown = http.post("/api/v1/auth/password-reset", json={"email": "nobody@example.com"})
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()

    path, subject = _only_link(stack, sink, owner_email, "reset")
    assert subject == "Choose a new password for Attune"
    assert addressed_to(sink, "nobody@example.com") == []
    token = path.rsplit("/", 1)[-1]
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    with everything(stack) as session:
        stored = session.exec(select(AccountLink)).one()
    assert stored.token_hash == hash_token(token) and token not in str(stored.model_dump())

    # Opening the link (as a mail scanner would) shows the form and changes nothing.
    for _ in range(2):
        page = http.get(path)
        assert page.status_code == 200
        assert 'name="password"' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
    assert log_in(http, owner_email, OWNER_PASSWORD).status_code == 200

    # A typo does not use the link up.
    mismatch = http.post(path, data={"password": "a new long secret", "confirm": "something else"})
    assert mismatch.status_code == 422 and "not the same" in mismatch.text
    short = http.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422
    assert http.post(path, data={"password": "a new long secret"}).status_code == 422

    done = http.post(path, data={"password": "a new long secret", "confirm": "a new long secret"})
    assert done.status_code == 200, done.text
    assert log_in(http, owner_email, OWNER_PASSWORD).status_code == 401
    assert log_in(http, owner_email, "a new long secret").status_code == 200
    assert http.get("/api/v1/me", headers=old_session).status_code == 401, "sessions revoked"

    again = http.post(
        path, data={"password": "yet another secret", "confirm": "yet another secret"}
    )
    assert again.status_code == 410
    assert http.get(path).status_code == 410
    assert log_in(http, owner_email, "a new long secret").status_code == 200
    # The invitation page does not take a reset token.
    assert http.get(path.replace("/reset/", "/join/")).status_code == 404
    assert token not in captured_logs.getvalue()
    assert owner_email not in captured_logs.getvalue()


def test_a_reset_link_expires(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    http.post("/api/v1/auth/password-reset", json={"email": practice.owner["email"]})
    path, _ = _only_link(stack, sink, practice.owner["email"], "reset")
    clock.advance(timedelta(minutes=60))
    assert http.get(path).status_code == 410
    late = http.post(path, data={"password": "a new long secret", "confirm": "a new long secret"})
    assert late.status_code == 410
    assert "expired" in late.text
    assert log_in(http, practice.owner["email"], OWNER_PASSWORD).status_code == 200


def test_a_clinician_joins_by_invitation(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    added = http.post(
        "/api/v1/clinicians",
        json={"email": "jo@harbour.example.com", "name": "Jo Newhire", "timezone": "Europe/London"},
        headers=practice.as_owner(),
    )
    assert added.status_code == 201, added.text
    path, subject = _only_link(stack, sink, "jo@harbour.example.com", "join")
    assert subject == "Set up your Attune account"
    text = body(addressed_to(sink, "jo@harbour.example.com")[0], "plain")
    assert "Harbour Counselling" in text and "7 days" in text
    # Without a password nobody can sign in as the new account.
    assert log_in(http, "jo@harbour.example.com", "").status_code in (401, 422)
    assert http.get(path).status_code == 200

    # Only the owner invites; a clinician of the practice may not.
    clinician_id = added.json()["id"]
    assert (
        http.post(
            f"/api/v1/clinicians/{clinician_id}/invitation", headers=practice.as_clinician()
        ).status_code
        == 403
    )
    assert (
        http.post(
            f"/api/v1/clinicians/{clinician_id}/invitation", headers=practice.as_scheduler()
        ).status_code
        == 403
    )

    done = http.post(path, data={"password": "my own password", "confirm": "my own password"})
    # The invitation ends signed in, on the clinician's home page.
    assert (done.status_code, done.headers["location"]) == (303, "/sessions")
    assert "attune_session" in _set_cookies(done)
    signed_in = log_in(http, "jo@harbour.example.com", "my own password")
    assert signed_in.status_code == 200
    assert signed_in.json()["account"]["role"] == "clinician"
    assert (
        http.post(
            path, data={"password": "my own password", "confirm": "my own password"}
        ).status_code
        == 410
    )
    again = http.post(f"/api/v1/clinicians/{clinician_id}/invitation", headers=practice.as_owner())
    assert again.status_code == 409


def test_a_new_invitation_replaces_an_expired_one(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    added = http.post(
        "/api/v1/clinicians",
        json={"email": "jo@harbour.example.com", "name": "Jo Newhire"},
        headers=practice.as_owner(),
    )
    first, _ = _only_link(stack, sink, "jo@harbour.example.com", "join")
    clock.advance(timedelta(days=7))
    assert http.get(first).status_code == 410
    practice.log_in_again()
    again = http.post(
        f"/api/v1/clinicians/{added.json()['id']}/invitation", headers=practice.as_owner()
    )
    assert again.status_code == 201, again.text
    stack.settle()
    emails = addressed_to(sink, "jo@harbour.example.com")
    assert len(emails) == 2
    newest = [link for email in emails for link in links(email) if "/account/join/" in link]
    second = next(link for link in newest if not link.endswith(first))
    assert http.get(second.removeprefix("http://attune.test")).status_code == 200


def test_api_responses_and_pages_carry_security_headers(
    http: httpx.Client, practice: PracticeFixture
) -> None:
    response = http.get("/api/v1/me", headers=practice.as_owner())
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers  # base_url is http here
    page = http.get("/s/not-a-real-token")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_hsts_when_served_over_https(stack: Stack) -> None:
    from litestar.testing import TestClient

    from services.api.app import create_app
    from services.api.context import ApiContext

    settings = stack.settings.model_copy(update={"base_url": "https://attune.example"})
    app = create_app(ApiContext(settings=settings, db=stack.db, clock=stack.clock))
    with TestClient(app) as client:
        response = client.get("/health")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


def test_an_api_key_is_shown_once_stored_hashed_tracked_and_revocable(
    stack: Stack, http: httpx.Client, clock: ManualClock, practice: PracticeFixture
) -> None:
    created = http.post("/api/v1/api-keys", json={"name": "EHR"}, headers=practice.as_owner())
    assert created.status_code == 201
    raw = created.json()["key"]
    key_id = created.json()["id"]
    listed = http.get("/api/v1/api-keys", headers=practice.as_owner()).json()
    assert all("key" not in k for k in listed)
    assert raw not in http.get("/api/v1/api-keys", headers=practice.as_owner()).text
    with everything(stack) as session:
        stored = session.exec(select(ApiKey).where(ApiKey.name == "EHR")).one()
    assert stored.key_hash == hash_token(raw) and stored.last_used_at is None

    clock.advance(timedelta(minutes=5))
    assert http.get("/api/v1/clients", headers={"X-API-Key": raw}).status_code == 200
    used = next(
        k
        for k in http.get("/api/v1/api-keys", headers=practice.as_owner()).json()
        if k["id"] == key_id
    )
    assert used["last_used_at"] == clock.now().isoformat().replace("+00:00", "Z")

    # Only the owner manages keys; a key cannot manage keys either.
    assert http.get("/api/v1/api-keys", headers=practice.as_clinician()).status_code == 403
    assert http.get("/api/v1/api-keys", headers={"X-API-Key": raw}).status_code == 403
    revoked = http.delete(f"/api/v1/api-keys/{key_id}", headers=practice.as_owner())
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert http.get("/api/v1/clients", headers={"X-API-Key": raw}).status_code == 401
    assert http.get("/api/v1/clients", headers=practice.as_scheduler()).status_code == 200
