"""Writes a rendered email as the bytes that go over SMTP, with its envelope.

The message is written directly (RFC 5322 headers, RFC 2047 encoded-words for any header text
that is not plain ASCII, RFC 2045 quoted-printable UTF-8 bodies in a multipart/alternative),
not assembled with the `email` package: its header objects, parsing and folding were a third of
a worker's CPU per email. What is written is checked against what the package would build
(tests/unit/test_email_message.py parses both with `email.policy.default`).

Every line ends in CRLF and is 7-bit, so the bytes pass any relay unchanged, and none is longer
than 998 characters (RFC 5322's limit); headers fold at spaces near 78. Single-token headers (a
Message-ID, a List-Unsubscribe URL) are written on one line as they are: mail providers do not
decode encoded-words there, so one-click unsubscribe and threading would silently break.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from shared.email.content import RenderedEmail, Sender

# RFC 5322: lines SHOULD stay within 78 characters and MUST within 998 (CRLF excluded).
_FOLD_AT = 78
_MAX_LINE = 998

# Headers this module sets itself; a rendered email may add to them but not replace them.
_OWN_HEADERS = frozenset(
    {
        "from",
        "to",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)

# Domain-separates the hash so a message id cannot be matched against hashes of the same key
# made for another purpose.
_MESSAGE_ID_CONTEXT = b"attune/message-id\x00"

# Text that may stand in a header as it is: printable ASCII, and nothing a reader would take
# for an encoded-word.
_NEEDS_ENCODING = re.compile(r"[^\x20-\x7e]|=\?")
# A display name made of atoms needs no quotes (RFC 5322 3.2.3, "atext" and spaces).
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*")
# What an address and a header name may not contain, here.
_ADDRESS_FORBIDDEN = re.compile(r"[^\x21-\x7e]|[<>()\[\],;:\\\"]")
_HEADER_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")

# UTF-8 bytes per encoded-word: 39 bytes are 52 base64 characters, and with "=?utf-8?b?" and
# "?=" the word is 64 long, so even "Subject: " and a word fit in 78.
_WORD_BYTES = 39

# Quoted-printable output never holds "=_" (an "=" is followed by hex digits or a line end),
# so a boundary starting with it cannot occur inside a part.
_BOUNDARY_PREFIX = "=_attune_"

_TEXT_PART_HEADERS = (
    'Content-Type: text/{subtype}; charset="utf-8"\r\n'
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)


@dataclass(frozen=True)
class OutgoingEmail:
    """What an SMTP conversation needs: the envelope and the message's bytes."""

    sender: str  # MAIL FROM: the From address
    recipients: tuple[str, ...]  # RCPT TO
    message_id: str
    data: bytes  # CRLF line ends, 7-bit


def build_message(
    rendered: RenderedEmail,
    *,
    sender: Sender,
    to_address: str,
    message_id: str,
    sent_at: datetime,
) -> OutgoingEmail:
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        # A naive time would be sent as "-0000" (zone unknown) and shown wrongly to readers.
        raise ValueError("sent_at must be timezone-aware")
    _check_message_id(message_id)
    for address in (sender.address, to_address, sender.reply_to):
        if address is not None:
            _check_address(address)

    # The display name is the practice's choice; folding whitespace keeps it on one line.
    display_name = " ".join(sender.display_name.split())
    from_value = f"{_phrase(display_name)} <{sender.address}>" if display_name else sender.address
    lines = [_header("From", from_value), _header("To", to_address)]
    if sender.reply_to:
        lines.append(_header("Reply-To", sender.reply_to))
    lines += [
        _unstructured("Subject", " ".join(rendered.subject.split())),
        _header("Date", format_datetime(sent_at)),
        _header("Message-ID", message_id),
        # RFC 3834: keeps vacation responders and auto-replies from answering a robot.
        "Auto-Submitted: auto-generated\r\n",
    ]
    for name, value in rendered.headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError("a header name must be printable ASCII without a colon")
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"a rendered email may not set the {name} header")
        lines.append(_unstructured(name, value))
    boundary = _BOUNDARY_PREFIX + secrets.token_hex(12)
    lines += [
        "MIME-Version: 1.0\r\n",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
        "\r\n",
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    data = b"".join(
        (
            "".join(lines).encode("ascii"),
            delimiter[2:],
            # Clients show the last alternative they can display, so HTML goes after plain text.
            _text_part(rendered.text, "plain"),
            delimiter,
            _text_part(rendered.html, "html"),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )
    return OutgoingEmail(
        sender=sender.address, recipients=(to_address,), message_id=message_id, data=data
    )


def make_message_id(key: str, domain: str) -> str:
    """A Message-ID that stays the same for every attempt to send one notification.

    Retries of the same notification then look like one message to mail systems that
    deduplicate by Message-ID. The key is hashed because it names internal records.
    """
    if not domain or not domain.isascii() or any(c in domain for c in ' \t\r\n<>@"()[],;:\\'):
        raise ValueError("message id domain must be a plain ASCII domain name")
    digest = hashlib.sha256(_MESSAGE_ID_CONTEXT + key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _text_part(content: str, subtype: str) -> bytes:
    # Quoted-printable keeps every line short and 7-bit clean, whatever relay sits between us
    # and the reader, while leaving the source readable. Line ends are made CRLF and the
    # content ends with one, as the email package's set_content does.
    body = b"\r\n".join(content.encode("utf-8").splitlines()) + b"\r\n"
    return _TEXT_PART_HEADERS.format(subtype=subtype).encode("ascii") + binascii.b2a_qp(
        body, istext=True
    )


def _header(name: str, value: str) -> str:
    """A header of ASCII tokens (addresses, a date, an id), folded at spaces if long."""
    folded = _fold(name, value)
    if folded is None:
        raise ValueError(f"the {name} header is too long for one line")
    return folded


def _unstructured(name: str, text: str) -> str:
    """A header of free text (RFC 5322 unstructured): as it is when it can be, else UTF-8
    encoded-words."""
    if not _NEEDS_ENCODING.search(text):
        folded = _fold(name, text)
        if folded is not None:
            return folded
    return f"{name}: " + "\r\n ".join(_encoded_words(text)) + "\r\n"


def _phrase(name: str) -> str:
    """A display name as RFC 5322 writes one: atoms, a quoted string, or atoms and
    encoded-words."""
    if not _NEEDS_ENCODING.search(name):
        if _ATOMS.fullmatch(name):
            return name
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    # Each run of words that are not plain atoms becomes encoded-words with its inner spaces
    # inside them, and the spaces around a run stay as they are: a name then breaks into
    # adjacent encoded-words only when one run is long, where some readers (the email
    # package among them) would show a space that is not there.
    words: list[str] = []
    run: list[str] = []
    for word in name.split(" "):
        if _ATOMS.fullmatch(word) and not _NEEDS_ENCODING.search(word):
            if run:
                words += _encoded_words(" ".join(run))
                run = []
            words.append(word)
        else:
            run.append(word)
    if run:
        words += _encoded_words(" ".join(run))
    return " ".join(words)


def _fold(name: str, value: str) -> str | None:
    """The header line with CRLF inserted before spaces so its lines stay near 78 characters,
    ending in CRLF; None if a piece between spaces would still pass 998. Never right after the
    colon: some readers would keep the space that starts the value."""
    line = f"{name}: {value}"
    if len(line) <= _FOLD_AT:
        return line + "\r\n"
    folded: list[str] = []
    first, *rest = value.split(" ")
    current = f"{name}: {first}"
    for piece in rest:
        # An empty piece is a second space in a row: a folded line may not be all blank.
        if piece and len(current) + 1 + len(piece) > _FOLD_AT and current.strip():
            folded.append(current)
            current = " " + piece
        else:
            current += " " + piece
    folded.append(current)
    if max(len(part) for part in folded) > _MAX_LINE:
        return None
    return "\r\n".join(folded) + "\r\n"


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 encoded-words for `text`, each whole characters (a reader decodes each
    word on its own) and short enough for its line; spaces are kept inside the words, since
    readers drop the whitespace between two encoded-words."""
    words: list[str] = []
    chunk = bytearray()
    for character in text:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _WORD_BYTES:
            words.append(_encoded_word(bytes(chunk)))
            chunk.clear()
        chunk += encoded
    if chunk or not words:
        words.append(_encoded_word(bytes(chunk)))
    return words


def _encoded_word(data: bytes) -> str:
    return f"=?utf-8?b?{b64encode(data).decode('ascii')}?="


def _check_address(address: str) -> None:
    # An address goes on the SMTP envelope and into a header as it is; one that is not plain
    # ASCII would need SMTPUTF8, which Attune does not ask relays for.
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local or _ADDRESS_FORBIDDEN.search(address):
        raise ValueError("an email address must be plain ASCII, local@domain")


def _check_message_id(message_id: str) -> None:
    inner = message_id[1:-1]
    if (
        not (message_id.startswith("<") and message_id.endswith(">"))
        or not message_id.isascii()
        or inner.count("@") != 1
        or any(c in inner for c in " \t\r\n<>")
    ):
        raise ValueError('message_id must look like "<local@domain>"')
