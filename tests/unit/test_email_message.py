"""The bytes shared.email.message writes, parsed with the email package (policy.default) and
compared header by header and part by part with the message the package itself builds from
the same inputs (tests/unit/email_reference.py, the builder it replaced)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from shared.email.content import RenderedEmail, Sender
from shared.email.message import OutgoingEmail, build_message, make_message_id
from shared.email.render import render_nudge, render_survey_invitation
from tests.unit.email_reference import reference_message
from tests.unit.test_email_render import make_invitation, make_nudge, make_sender

SENT_AT = datetime(2025, 11, 20, 9, 30, tzinfo=UTC)
DOMAIN = "mail.attune.example.org"
ADDRESS_HEADERS = ("To", "Reply-To")

LONG_TEXT = (
    "Hello = friend,\n"
    + "A line that runs on and on without a break, " * 6
    + "\n.a line that starts with a dot\nFrom the start of a line\n"
    + "trailing spaces   \nund Umlaute: Grüße, schöne Woche — bis bald 😀\n"
    + "a very long word "
    + "x" * 200
    + "\n\n\nthe end, without a final line break"
)

SENDERS = {
    "atoms": Sender(display_name="Northside Wellbeing", address="hello@north.example"),
    "specials": make_sender(),  # "A & B <Clinic>": a quoted string
    "quotes and backslash": Sender(
        display_name='The "Quiet" Room \\ Praxis', address="hi@q.example", reply_to="r@q.example"
    ),
    "non-ascii": Sender(
        display_name='Praxis Jörg Müller, "Therapie" & Co. — Zürich', address="p@jm.example"
    ),
    "long": Sender(display_name="Centre " * 15, address="long@centre.example"),
    "empty": Sender(display_name="  ", address="bare@x.example"),
    "looks encoded": Sender(display_name="=?utf-8?q?Boss?=", address="b@x.example"),
}

SUBJECTS = {
    "plain": "A quick question from A & B",
    "long ascii": "Before your session " * 8,
    "non-ascii": "Wie fühlte sich die Sitzung heute an? Ein kurzer Blick — 30 Sekunden 😀 " * 2,
    "one long word": "y" * 1200,
    "looks encoded": "Re: =?utf-8?q?hello?= there",
    "cjk": "今日のセッションはいかがでしたか" * 3,
}


def parse(raw: bytes) -> EmailMessage:
    # SMTP carries CRLF line ends; a delivering MTA stores local ones, and so do we here.
    parsed = BytesParser(policy=policy.default).parsebytes(raw.replace(b"\r\n", b"\n"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def build_both(
    rendered: RenderedEmail, sender: Sender, *, to: str = "client@example.com", **extra: object
) -> tuple[OutgoingEmail, EmailMessage, EmailMessage]:
    arguments: dict[str, object] = {
        "sender": sender,
        "to_address": to,
        "message_id": make_message_id("test:1", DOMAIN),
        "sent_at": SENT_AT,
        **extra,
    }
    written = build_message(rendered, **arguments)  # type: ignore[arg-type]
    built = reference_message(rendered, **arguments)  # type: ignore[arg-type]
    return written, parse(written.data), parse(built.as_bytes())


def assert_same_message(
    ours: EmailMessage, theirs: EmailMessage, rendered: RenderedEmail, sender: Sender
) -> None:
    """Every header and part as the email package built it, except the two texts it got
    wrong, which are compared with what was meant: a display name long enough to take two
    encoded-words (its parser shows a space between them, inside a word: "Zü rich") and text
    that looks like an encoded-word (written as it is, so a reader decodes it: "=?utf-8?q?Boss?="
    arrives as "Boss")."""
    assert ours.defects == []
    assert list(ours.keys()) == list(theirs.keys())
    (author,) = ours["From"].addresses
    assert author.display_name == " ".join(sender.display_name.split())
    assert author.addr_spec == theirs["From"].addresses[0].addr_spec
    assert ours["Subject"] == " ".join(rendered.subject.split())
    for name in ours:
        assert ours[name].defects == (), name
        if name in ("From", "Subject"):
            continue
        if name in ADDRESS_HEADERS:
            assert ours[name].addresses == theirs[name].addresses, name
        elif name == "Date":
            assert ours[name].datetime == theirs[name].datetime
        elif name == "Content-Type":
            assert ours.get_content_type() == theirs.get_content_type()
        else:
            assert str(ours[name]) == str(theirs[name]), name
    our_parts, their_parts = list(ours.iter_parts()), list(theirs.iter_parts())
    assert len(our_parts) == len(their_parts) == 2
    for mine, other in zip(our_parts, their_parts, strict=True):
        assert list(mine.keys()) == list(other.keys())
        assert mine.get_content_type() == other.get_content_type()
        assert mine.get_content_charset() == other.get_content_charset() == "utf-8"
        assert mine["Content-Transfer-Encoding"] == other["Content-Transfer-Encoding"]
        assert mine.get_content() == other.get_content()


def assert_well_formed(data: bytes) -> None:
    assert data.isascii()
    assert data.endswith(b"\r\n")
    lines = data.split(b"\r\n")
    # No bare CR or LF: each line ends in CRLF.
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    assert max(len(line) for line in lines) <= 998
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n"):
        # Past 78 only where one unbreakable token stands (a URL, a long word).
        value = line[1:] if line.startswith(b" ") else line.split(b": ", 1)[1]
        assert len(line) <= 78 or b" " not in value, line
    assert max(len(line) for line in body.split(b"\r\n")) <= 78


@pytest.mark.parametrize("sender", SENDERS.values(), ids=SENDERS.keys())
@pytest.mark.parametrize("subject", SUBJECTS.values(), ids=SUBJECTS.keys())
def test_every_header_and_part_matches_the_email_package(sender: Sender, subject: str) -> None:
    rendered = replace(render_survey_invitation(make_invitation(sender=sender)), subject=subject)

    written, ours, theirs = build_both(rendered, sender)

    assert_same_message(ours, theirs, rendered, sender)
    assert_well_formed(written.data)


@pytest.mark.parametrize("reminder", [False, True])
def test_survey_emails_match_with_their_list_and_threading_headers(reminder: bool) -> None:
    rendered = render_survey_invitation(make_invitation(reminder=reminder))
    if reminder:
        original = make_message_id("survey:1", DOMAIN)
        rendered = replace(
            rendered, headers={**rendered.headers, "In-Reply-To": original, "References": original}
        )

    written, ours, theirs = build_both(rendered, make_sender())

    assert_same_message(ours, theirs, rendered, make_sender())
    assert_well_formed(written.data)
    # Read raw by mail providers: one line each, as they are.
    unsubscribe = rendered.headers["List-Unsubscribe"]
    assert f"\r\nList-Unsubscribe: {unsubscribe}\r\n".encode() in written.data
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in written.data
    assert f"\r\nMessage-ID: {written.message_id}\r\n".encode() in written.data


def test_bodies_with_long_lines_and_odd_characters_match() -> None:
    rendered = RenderedEmail(
        subject="Bodies", text=LONG_TEXT, html=f"<p>{LONG_TEXT}</p>\r\n<p>crlf</p>\r\n"
    )

    written, ours, theirs = build_both(rendered, make_sender())

    assert_same_message(ours, theirs, rendered, make_sender())
    assert_well_formed(written.data)


def test_a_nudge_without_reply_to_and_a_date_with_an_offset_match() -> None:
    sent_at = datetime(2025, 11, 20, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    sender = make_sender(reply_to=None)

    rendered = render_nudge(make_nudge(sender=sender))
    written, ours, theirs = build_both(rendered, sender, to="dr@x.org", sent_at=sent_at)

    assert_same_message(ours, theirs, rendered, sender)
    assert "Reply-To" not in ours
    assert b"\r\nDate: Thu, 20 Nov 2025 10:30:00 +0100\r\n" in written.data


def test_the_envelope_is_the_sender_and_the_one_recipient() -> None:
    written, _, _ = build_both(render_nudge(make_nudge()), make_sender(), to="dr@x.org")

    assert written.sender == "hello@ab-clinic.example"
    assert written.recipients == ("dr@x.org",)
    assert written.message_id == make_message_id("test:1", DOMAIN)


def test_each_message_has_its_own_boundary_absent_from_its_parts() -> None:
    rendered = render_nudge(make_nudge())
    first, _, _ = build_both(rendered, make_sender())
    second, _, _ = build_both(rendered, make_sender())

    boundaries = [parse(m.data).get_boundary() for m in (first, second)]
    assert boundaries[0] != boundaries[1]
    for message, boundary in zip((first, second), boundaries, strict=True):
        assert boundary is not None
        # In the header, twice as a delimiter and once as the close, nowhere else.
        assert message.data.count(boundary.encode()) == 4


@pytest.mark.parametrize(
    "address", ["jörg@example.org", "a@exämple.org", "no-at-sign", "a b@x.org", "a@x.org>\r\nBcc:"]
)
def test_addresses_that_are_not_plain_ascii_are_refused(address: str) -> None:
    rendered = render_nudge(make_nudge())
    with pytest.raises(ValueError):
        build_message(
            rendered,
            sender=make_sender(),
            to_address=address,
            message_id=make_message_id("k", DOMAIN),
            sent_at=SENT_AT,
        )


@pytest.mark.parametrize("name", ["Bad Name", "Colon:", "Ümlaut", ""])
def test_malformed_header_names_are_refused(name: str) -> None:
    rendered = replace(render_nudge(make_nudge()), headers={name: "x"})
    with pytest.raises(ValueError):
        build_message(
            rendered,
            sender=make_sender(),
            to_address="dr@x.org",
            message_id=make_message_id("k", DOMAIN),
            sent_at=SENT_AT,
        )
