"""A client's links say plainly what state they are in, and HEAD answers like GET.

HEAD is what link previews and some scanners send: it must get the GET's status and headers
without a body, and change nothing (no answer, no opt-out, no token used up).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx

from services.api.app import TEMPLATES
from services.bootstrap import Stack
from shared.clock import ManualClock
from shared.email.sink import MailSink
from shared.models import AccessToken, OptOutChange, Response
from tests.integration.test_bad_input import unchanged
from tests.support.answers import ANSWERS, complete_and_send
from tests.support.inspection import client_row, count
from tests.support.links import survey_path, unsubscribe_path
from tests.support.loop import addressed_to, tick_and_settle
from tests.support.practice import CLIENT_EMAIL, PracticeFixture


def head_like_get(stack: Stack, http: httpx.Client, path: str) -> httpx.Response:
    """HEAD and GET agree on status and headers; HEAD has no body; neither changes a row."""
    with unchanged(stack):
        got = http.get(path)
        head = http.head(path)
    assert head.status_code == got.status_code, path
    assert head.content == b""
    for name in ("content-type", "referrer-policy", "cache-control", "content-security-policy"):
        assert head.headers.get(name) == got.headers.get(name), name
    assert "x-request-id" in head.headers
    return got


def test_survey_link_states_are_plain_and_head_changes_nothing(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    [email] = addressed_to(sink, CLIENT_EMAIL)
    path = survey_path(email)
    tokens = count(stack, AccessToken)

    open_page = head_like_get(stack, http, path)
    assert open_page.status_code == 200 and "<form" in open_page.text
    assert count(stack, Response) == 0 and count(stack, AccessToken) == tokens

    assert http.post(path, data=ANSWERS).status_code == 200
    answered = head_like_get(stack, http, path)
    assert answered.status_code == 409
    assert "Already answered" in answered.text and "<form" not in answered.text

    # A second session's survey, left unanswered until it closes.
    complete_and_send(stack, clock, practice, "visit-2")
    second = survey_path(addressed_to(sink, CLIENT_EMAIL)[-1])
    clock.advance(timedelta(days=4))
    tick_and_settle(stack)
    closed = head_like_get(stack, http, second)
    assert closed.status_code == 410
    assert "closed" in closed.text and "<form" not in closed.text

    unknown = head_like_get(stack, http, "/s/" + "n" * 43)
    assert unknown.status_code == 404 and "not valid" in unknown.text


def test_an_unsubscribed_client_is_told_so_and_offered_no_second_button(
    stack: Stack, http: httpx.Client, sink: MailSink, clock: ManualClock, practice: PracticeFixture
) -> None:
    complete_and_send(stack, clock, practice, "visit-1")
    [email] = addressed_to(sink, CLIENT_EMAIL)
    path = unsubscribe_path(email)

    offer = head_like_get(stack, http, path)
    assert offer.status_code == 200 and "<button" in offer.text
    assert client_row(stack).opted_out_at is None

    done = http.post(path)
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert count(stack, OptOutChange) == 1

    again = head_like_get(stack, http, path)
    assert again.status_code == 200
    assert "already unsubscribed" in again.text
    assert "<button" not in again.text and "<form" not in again.text
    # Pressing an old form again changes nothing and says the same.
    with unchanged(stack):
        twice = http.post(path)
    assert "already unsubscribed" in twice.text
    assert count(stack, OptOutChange) == 1


def _policy(response: httpx.Response) -> dict[str, str]:
    return dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )


def test_pages_take_their_styles_from_attunes_stylesheets_alone(
    http: httpx.Client, practice: PracticeFixture
) -> None:
    """No template styles itself inline (a <style> element or a style attribute), so the
    pages' policy allows styles from Attune's own files only, not 'unsafe-inline'."""
    inline = [
        f"{template.relative_to(TEMPLATES)}: {found}"
        for template in sorted(Path(TEMPLATES).rglob("*.html"))
        for found in re.findall(r"<style\b|\sstyle\s*=", template.read_text())
    ]
    assert not inline, inline
    for path in ("/login", "/s/not-a-token", "/account/reset/not-a-token", "/u/not-a-token"):
        page = http.get(path)
        assert _policy(page)["style-src"] == "'self'", path
        sheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text)
        assert sheets, path
        for sheet in sheets:
            served = http.get(sheet)
            assert served.status_code == 200 and served.headers["content-type"].startswith(
                "text/css"
            ), sheet
            assert "{" in served.text, sheet
