"""Email rendering and MIME assembly: what reaches an inbox, checked after a full round trip."""

from __future__ import annotations

import html
import random
import re
import string
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.email import render
from shared.email.content import (
    NudgeEmail,
    NudgePoint,
    RenderedEmail,
    ScaleChoice,
    Sender,
    SurveyInvitationEmail,
)
from shared.email.message import OutgoingEmail, build_message, make_message_id
from shared.email.render import TEMPLATES_DIR, render_nudge, render_survey_invitation

PRACTICE = "A & B <Clinic>"
SENT_AT = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)
MESSAGE_ID = "<0123456789abcdef0123456789abcdef@mail.attune.example.org>"
LABELS = ("Not at all", "A little", "Somewhat", "Mostly", "Completely")
# Long on purpose: past 78 characters the stdlib would RFC 2047-encode a header holding it.
TOKEN = "tK3v9QpX2mR7sL0aZ8wE1yU6iO4pA5sD9fG2hJ3kL7z"
SURVEY_URL = f"https://attune.example.org/s/{TOKEN}"
UNSUBSCRIBE_URL = f"https://attune.example.org/unsubscribe/{TOKEN}"
CHOICE_URLS = tuple(f"{SURVEY_URL}?item=honest&answer={value}" for value in range(1, 6))
ALERT_URL = "https://attune.example.org/alerts/7f3a9c?from=email&v=1"
DASHBOARD_URL = "https://attune.example.org/dashboard"
CRISIS_LINE = "Call or text 988, any time"
EXPIRES_ON = "Thursday 26 November"


def make_sender(reply_to: str | None = "front-desk@ab-clinic.example") -> Sender:
    return Sender(display_name=PRACTICE, address="hello@ab-clinic.example", reply_to=reply_to)


def make_invitation(
    *, reminder: bool = False, sender: Sender | None = None
) -> SurveyInvitationEmail:
    return SurveyInvitationEmail(
        to_address="client@example.com",
        sender=sender or make_sender(),
        subject="A quick question from A & B",
        first_question="I felt comfortable being honest today.",
        choices=tuple(
            ScaleChoice(value=value, label=label, url=url)
            for value, label, url in zip(range(1, 6), LABELS, CHOICE_URLS, strict=True)
        ),
        survey_url=SURVEY_URL,
        unsubscribe_url=UNSUBSCRIBE_URL,
        expires_on=EXPIRES_ON,
        crisis_line=CRISIS_LINE,
        reminder=reminder,
    )


def make_nudge(sender: Sender | None = None) -> NudgeEmail:
    return NudgeEmail(
        to_address="dr.rivera@ab-clinic.example",
        sender=sender or make_sender(reply_to=None),
        subject="Before your session on Tue 1 Dec, 10:00",
        clinician_name="Dr. Rivera",
        client_reference="K7-2Q",
        appointment_time="Tue 1 Dec, 10:00 (Europe/Berlin)",
        points=(
            NudgePoint(
                move_title="Address the relationship directly",
                reason="Feeling able to be honest was rated lower than usual.",
                advice="Name the relationship gently and explore what happened.",
            ),
            NudgePoint(
                move_title="Slow the pace",
                reason="The pace of the session was rated lower than usual.",
                advice="Check in about pace before going further.",
            ),
        ),
        alert_url=ALERT_URL,
        dashboard_url=DASHBOARD_URL,
    )


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse_tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = _TagCollector()
    collector.feed(markup)
    collector.close()
    return collector.tags


def hrefs(markup: str) -> list[str]:
    return [attrs["href"] or "" for tag, attrs in parse_tags(markup) if "href" in attrs]


def serialize(rendered: RenderedEmail, *, sender: Sender, to_address: str) -> bytes:
    message = build_message(
        rendered,
        sender=sender,
        to_address=to_address,
        message_id=MESSAGE_ID,
        sent_at=SENT_AT,
    )
    return message.data


def parse(raw: bytes) -> EmailMessage:
    # SMTP carries CRLF line ends; a delivering MTA stores local ones, and so do we here.
    parsed = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    subparts = list(message.iter_parts())
    assert [part.get_content_type() for part in subparts] == ["text/plain", "text/html"]
    for part in subparts:
        assert part.get_content_charset() == "utf-8"
    plain, markup = (part.get_content() for part in subparts)
    assert isinstance(plain, str)
    assert isinstance(markup, str)
    return plain, markup


def without_urls(content: str, urls: tuple[str, ...]) -> str:
    # Longest first, so a URL that prefixes another cannot leave the other's tail behind.
    for url in sorted(urls, key=len, reverse=True):
        content = content.replace(url, "")
    return content


# --- survey invitation --------------------------------------------------------------------


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_invitation_round_trips_as_multipart_alternative(reminder: bool) -> None:
    email = make_invitation(reminder=reminder)
    rendered = render_survey_invitation(email)

    plain, markup = parts(parse(serialize(rendered, sender=email.sender, to_address="c@x.org")))

    assert plain == rendered.text
    assert markup == rendered.html


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_html_links_are_exactly_the_given_ones(reminder: bool) -> None:
    email = make_invitation(reminder=reminder)
    raw = serialize(render_survey_invitation(email), sender=email.sender, to_address="c@x.org")
    _, markup = parts(parse(raw))

    links = hrefs(markup)

    assert links[:5] == list(CHOICE_URLS)
    assert sorted(links) == sorted([*CHOICE_URLS, SURVEY_URL, UNSUBSCRIBE_URL])


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_text_lists_every_link_and_choice_label(reminder: bool) -> None:
    plain = render_survey_invitation(make_invitation(reminder=reminder)).text

    for url in (*CHOICE_URLS, SURVEY_URL, UNSUBSCRIBE_URL):
        assert url in plain.splitlines()
    for value, label in zip(range(1, 6), LABELS, strict=True):
        assert f"{value} - {label}" in plain


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_says_what_matters_in_both_parts(reminder: bool) -> None:
    rendered = render_survey_invitation(make_invitation(reminder=reminder))

    for content in (rendered.text, html.unescape(rendered.html)):
        assert "I felt comfortable being honest today." in content
        assert "not monitored in real time" in content
        assert CRISIS_LINE in content
        assert EXPIRES_ON in content
        assert "unsubscribe" in content


@pytest.mark.parametrize("reminder", [False, True])
def test_a_survey_email_from_the_cached_render_is_the_full_render(reminder: bool) -> None:
    # Links with one query parameter, as Attune makes them: filled into the cached pieces.
    first = make_invitation(reminder=reminder)
    for n, sender in enumerate([make_sender(), make_sender(reply_to=None), make_sender()]):
        token = f"Tok{n}{TOKEN}"
        email = replace(
            first,
            to_address=f"client{n}@example.com",
            sender=sender,
            choices=tuple(
                replace(choice, url=f"https://attune.example.org/s/{token}?honest={choice.value}")
                for choice in first.choices
            ),
            survey_url=f"https://attune.example.org/s/{token}",
            unsubscribe_url=f"https://attune.example.org/u/{token}",
            expires_on=f"Monday {n + 1} December",
        )
        cached = render_survey_invitation(email)
        full = render.render_template("survey_invitation", email.subject, {"email": email})
        assert (cached.subject, cached.text, cached.html) == (full.subject, full.text, full.html)
    # Links that escaping would change are rendered in full (the module's own CHOICE_URLS).
    assert "&amp;answer=" in render_survey_invitation(first).html


def test_reminder_is_a_gentle_variant() -> None:
    first = render_survey_invitation(make_invitation(reminder=False))
    reminder = render_survey_invitation(make_invitation(reminder=True))

    assert "gentle reminder" in reminder.text
    assert "gentle reminder" in reminder.html
    assert "reminder" not in first.text.lower()
    assert "completely fine" in reminder.text
    for pushy in ("urgent", "last chance", "don't miss", "!"):
        assert pushy not in reminder.text.lower()


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_refers_to_no_address_but_the_given_urls(reminder: bool) -> None:
    rendered = render_survey_invitation(make_invitation(reminder=reminder))
    urls = (*CHOICE_URLS, SURVEY_URL, UNSUBSCRIBE_URL)

    assert "http" not in without_urls(rendered.text, urls).lower()
    assert "http" not in without_urls(html.unescape(rendered.html), urls).lower()


def test_list_unsubscribe_headers_follow_rfc_8058() -> None:
    email = make_invitation()
    rendered = render_survey_invitation(email)
    raw = serialize(rendered, sender=email.sender, to_address="c@x.org")
    message = parse(raw)

    assert rendered.headers["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Mail providers read this header raw: it must be one plain line, not RFC 2047 words.
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE_URL}>\r\n".encode() in raw


def test_message_headers() -> None:
    email = make_invitation()
    raw = serialize(render_survey_invitation(email), sender=email.sender, to_address="c@x.org")
    message = parse(raw)

    (sender,) = message["From"].addresses
    assert sender.display_name == PRACTICE
    assert sender.addr_spec == "hello@ab-clinic.example"
    assert message["To"] == "c@x.org"
    assert message["Reply-To"] == "front-desk@ab-clinic.example"
    assert message["Subject"] == "A quick question from A & B"
    assert message["Date"].datetime == SENT_AT
    assert message["Message-ID"] == MESSAGE_ID
    assert f"\r\nMessage-ID: {MESSAGE_ID}\r\n".encode() in raw
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"


def test_reply_to_is_left_out_when_the_practice_has_none() -> None:
    sender = make_sender(reply_to=None)
    email = make_invitation(sender=sender)
    message = parse(serialize(render_survey_invitation(email), sender=sender, to_address="c@x.org"))

    assert "Reply-To" not in message


def test_date_keeps_the_given_offset() -> None:
    sent_at = datetime(2025, 11, 20, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    message = build_message(
        render_nudge(make_nudge()),
        sender=make_sender(),
        to_address="dr@x.org",
        message_id=MESSAGE_ID,
        sent_at=sent_at,
    )

    assert b"\r\nDate: Thu, 20 Nov 2025 10:30:00 +0100\r\n" in message.data


def test_html_escapes_every_value() -> None:
    email = replace(
        make_invitation(),
        first_question='Did <b>this</b> & "that" feel right?',
        crisis_line="Call <Helpline> & stay safe",
    )
    rendered = render_survey_invitation(email)

    assert "A &amp; B &lt;Clinic&gt;" in rendered.html
    assert "<Clinic>" not in rendered.html
    assert "<b>this</b>" not in rendered.html
    assert "&lt;b&gt;this&lt;/b&gt;" in rendered.html
    assert "<Helpline>" not in rendered.html
    # The href still carries the URL's own ampersand, escaped as HTML requires.
    assert CHOICE_URLS[0].replace("&", "&amp;") in rendered.html
    # Plain text is not HTML: it shows the name as the practice wrote it.
    assert PRACTICE in rendered.text
    assert "&amp;" not in rendered.text


@pytest.mark.parametrize("render", ["survey", "nudge"])
def test_html_is_self_contained_inline_styled_and_accessible(render: str) -> None:
    if render == "survey":
        markup = render_survey_invitation(make_invitation()).html
    else:
        markup = render_nudge(make_nudge()).html
    lowered = markup.lower()
    tags = parse_tags(markup)

    for forbidden in ("<style", "<img", "<script", "<link", "<iframe", "url(", "@import"):
        assert forbidden not in lowered
    assert ("html", {"lang": "en"}) in tags
    assert "max-width:560px" in markup
    assert any(tag == "meta" and attrs.get("name") == "viewport" for tag, attrs in tags)
    tables = [attrs for tag, attrs in tags if tag == "table"]
    assert tables
    assert all(attrs.get("role") == "presentation" for attrs in tables)
    assert not any(name.startswith("on") for _, attrs in tags for name in attrs)


def test_every_message_line_is_seven_bit_and_short() -> None:
    sender = Sender(display_name="Praxis Müller & Söhne", address="hallo@praxis.example")
    email = replace(
        make_invitation(sender=sender),
        first_question="Ich konnte heute offen über alles sprechen, was mir wichtig war. " * 3,
    )
    raw = serialize(render_survey_invitation(email), sender=sender, to_address="c@x.org")
    message = parse(raw)

    assert raw.isascii()
    lines = raw.split(b"\r\n")
    assert raw.endswith(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 78
    assert message["From"].addresses[0].display_name == "Praxis Müller & Söhne"
    plain, _ = parts(message)
    assert email.first_question in plain


# --- nudge --------------------------------------------------------------------------------


def test_nudge_round_trips_as_multipart_alternative() -> None:
    email = make_nudge()
    rendered = render_nudge(email)
    message = parse(serialize(rendered, sender=email.sender, to_address=email.to_address))

    plain, markup = parts(message)

    assert plain == rendered.text
    assert markup == rendered.html
    assert "List-Unsubscribe" not in message
    assert message["Auto-Submitted"] == "auto-generated"


def test_nudge_links_are_exactly_the_alert_and_the_dashboard() -> None:
    rendered = render_nudge(make_nudge())

    assert hrefs(rendered.html) == [ALERT_URL, DASHBOARD_URL]
    assert ALERT_URL in rendered.text.splitlines()
    assert DASHBOARD_URL in rendered.text.splitlines()
    urls = (ALERT_URL, DASHBOARD_URL)
    assert "http" not in without_urls(rendered.text, urls).lower()
    assert "http" not in without_urls(html.unescape(rendered.html), urls).lower()


def test_nudge_carries_reference_time_and_every_point() -> None:
    email = make_nudge()
    rendered = render_nudge(email)

    for content in (rendered.text, html.unescape(rendered.html)):
        assert "Dr. Rivera" in content
        assert email.client_reference in content
        assert email.appointment_time in content
        for point in email.points:
            assert point.move_title in content
            assert point.reason in content
            assert point.advice in content


def test_nudge_reminds_to_validate_and_explore_before_change() -> None:
    rendered = render_nudge(make_nudge())

    for content in (rendered.text, rendered.html):
        assert "Validate first." in content
        match = re.search(
            r"acknowledging.*exploring together what happened.*before any change", content
        )
        assert match is not None


def test_nudge_shows_no_rating() -> None:
    email = make_nudge()
    rendered = render_nudge(email)
    raw = serialize(rendered, sender=email.sender, to_address=email.to_address)
    plain, markup = parts(parse(raw))
    rating = re.compile(r"[1-5]\s*(?:/\s*5|out\s+of)", re.IGNORECASE)

    for content in (rendered.subject, plain, markup, html.unescape(markup)):
        assert rating.search(content) is None
        assert re.search(r"score", content, re.IGNORECASE) is None


def test_nudge_content_type_has_no_field_for_clinical_detail() -> None:
    names = {f.name for f in fields(NudgeEmail)} | {f.name for f in fields(NudgePoint)}
    forbidden = ("score", "rating", "comment", "diagnos", "client_name", "client_email")

    assert not [name for name in names if any(word in name for word in forbidden)]


@pytest.mark.parametrize("name", ["nudge.txt", "nudge.html"])
def test_nudge_templates_use_only_nudge_fields(name: str) -> None:
    source = (Path(TEMPLATES_DIR) / name).read_text()
    allowed = {f.name for f in fields(NudgeEmail)} | {f.name for f in fields(NudgePoint)}
    used = set(re.findall(r"\b(?:email|point|email\.sender)\.([a-z_]+)", source))

    assert used
    assert used <= allowed | {"display_name"}


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad_url",
    [
        "javascript:alert(1)",
        "/relative/path",
        "https://attune.example.org/s/a b",
        'https://attune.example.org/s/"onmouseover="x',
        "https://attune.example.org/s/x>\r\nBcc: someone@example.com",
        "https://attune.example.org/s/ünï",
    ],
)
def test_render_refuses_unsafe_links(bad_url: str) -> None:
    with pytest.raises(ValueError) as raised:
        render_survey_invitation(replace(make_invitation(), unsubscribe_url=bad_url))
    assert bad_url not in str(raised.value)
    with pytest.raises(ValueError):
        render_nudge(replace(make_nudge(), alert_url=bad_url))


def test_a_link_the_quick_check_passes_passes_the_full_one() -> None:
    # render._PLAINLY_SAFE_URL lets a link skip urlsplit: it must never pass one that fails.
    rng = random.Random(14)
    alphabet = string.printable + "üé[]"
    starts = ["https://", "http://", "HTTPS://", "https:/", "https:///", "https://?", "ftp://"]
    passed = 0
    for _ in range(20_000):
        url = rng.choice(starts) + "".join(rng.choices(alphabet, k=rng.randint(0, 12)))
        if render._PLAINLY_SAFE_URL.fullmatch(url):
            passed += 1
            parts = urlsplit(url)
            assert parts.scheme in ("http", "https") and parts.netloc, url
            assert url.isascii() and render._URL_FORBIDDEN.isdisjoint(url), url
    assert passed > 1000
    assert render._PLAINLY_SAFE_URL.fullmatch(f"{SURVEY_URL}?honest=3")


def test_render_refuses_empty_choices_and_points() -> None:
    with pytest.raises(ValueError):
        render_survey_invitation(replace(make_invitation(), choices=()))
    with pytest.raises(ValueError):
        render_nudge(replace(make_nudge(), points=()))


def test_subject_line_breaks_are_flattened() -> None:
    rendered = render_nudge(replace(make_nudge(), subject="Before your\r\nBcc: x@y.org session"))

    assert rendered.subject == "Before your Bcc: x@y.org session"


def build_nudge_message(
    rendered: RenderedEmail,
    *,
    message_id: str = MESSAGE_ID,
    sent_at: datetime = SENT_AT,
) -> OutgoingEmail:
    return build_message(
        rendered,
        sender=make_sender(),
        to_address="dr@x.org",
        message_id=message_id,
        sent_at=sent_at,
    )


def test_build_message_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError):
        build_nudge_message(render_nudge(make_nudge()), sent_at=datetime(2025, 11, 20, 9, 30))


@pytest.mark.parametrize(
    "bad_id", ["no-brackets@x.org", "<no-at-sign>", "<a b@x.org>", "<a@x.org>\r\nBcc: y@z"]
)
def test_build_message_refuses_malformed_message_ids(bad_id: str) -> None:
    with pytest.raises(ValueError):
        build_nudge_message(render_nudge(make_nudge()), message_id=bad_id)


@pytest.mark.parametrize("header", ["From", "to", "Message-ID", "Content-Type", "Auto-Submitted"])
def test_rendered_headers_cannot_replace_the_builders_own(header: str) -> None:
    rendered = replace(render_nudge(make_nudge()), headers={header: "x@evil.example"})

    with pytest.raises(ValueError):
        build_nudge_message(rendered)


# --- message ids --------------------------------------------------------------------------


def test_message_id_is_stable_per_key_and_hides_it() -> None:
    key = "invitation:appointment-8842"
    first = make_message_id(key, "mail.attune.example.org")

    assert first == make_message_id(key, "mail.attune.example.org")
    assert first != make_message_id("invitation:appointment-8843", "mail.attune.example.org")
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.attune\.example\.org>", first)
    assert "8842" not in first
    assert "appointment" not in first


@pytest.mark.parametrize("domain", ["", "a b.org", "x@y.org", "evil.org>\r\nBcc: y@z", "bücher.de"])
def test_message_id_refuses_odd_domains(domain: str) -> None:
    with pytest.raises(ValueError):
        make_message_id("key", domain)


def test_message_id_from_make_message_id_survives_the_round_trip() -> None:
    message_id = make_message_id("nudge:alert-19", "mail.attune.example.org")
    raw = build_message(
        render_nudge(make_nudge()),
        sender=make_sender(),
        to_address="dr@x.org",
        message_id=message_id,
        sent_at=SENT_AT,
    ).data

    assert parse(raw)["Message-ID"] == message_id
