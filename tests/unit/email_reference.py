"""The message as the `email` package builds it: what shared.email.message wrote before it
wrote bytes itself, kept as the reference its output is compared with (test_email_message)."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.policy import EmailPolicy
from email.utils import format_datetime

from shared.email.content import RenderedEmail, Sender

# Headers whose value is one long token (a URL, a message id). policy.default turns such a
# value into RFC 2047 encoded-words once it passes 78 characters, which mail providers do not
# decode in these headers, so one-click unsubscribe and threading would silently break.
_VERBATIM_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id"})

# RFC 5322's hard limit on a line, CRLF excluded.
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


class _MailPolicy(EmailPolicy):
    """policy.default, except that a few single-token headers are written as they are."""

    def fold(self, name: str, value: str) -> str:
        line = self._verbatim(name, value)
        return line if line is not None else super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        line = self._verbatim(name, value)
        return line.encode("ascii") if line is not None else super().fold_binary(name, value)

    def _verbatim(self, name: str, value: str) -> str | None:
        if name.lower() not in _VERBATIM_HEADERS:
            return None
        text = str(value)
        line = f"{name}: {text}"
        if not line.isascii() or "\r" in line or "\n" in line or len(line) > _MAX_LINE:
            return None
        return line + self.linesep


_POLICY = _MailPolicy()


def reference_message(
    rendered: RenderedEmail,
    *,
    sender: Sender,
    to_address: str,
    message_id: str,
    sent_at: datetime,
) -> EmailMessage:
    if sent_at.tzinfo is None or sent_at.utcoffset() is None:
        # A naive time would be sent as "-0000" (zone unknown) and shown wrongly to readers.
        raise ValueError("sent_at must be timezone-aware")
    _check_message_id(message_id)

    message = EmailMessage(policy=_POLICY)
    # The display name is the practice's choice; folding whitespace keeps it on one line.
    message["From"] = Address(
        display_name=" ".join(sender.display_name.split()), addr_spec=sender.address
    )
    message["To"] = Address(addr_spec=to_address)
    if sender.reply_to:
        message["Reply-To"] = Address(addr_spec=sender.reply_to)
    message["Subject"] = " ".join(rendered.subject.split())
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    # RFC 3834: keeps vacation responders and auto-replies from answering a robot.
    message["Auto-Submitted"] = "auto-generated"
    for name, value in rendered.headers.items():
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"a rendered email may not set the {name} header")
        message[name] = value

    message["MIME-Version"] = "1.0"
    message.make_alternative()
    # Clients show the last alternative they can display, so HTML goes after plain text.
    # typeshed has attach() take only the message's own class; any MIMEPart attaches.
    message.attach(_text_part(rendered.text, "plain"))  # type: ignore[arg-type]
    message.attach(_text_part(rendered.html, "html"))  # type: ignore[arg-type]
    return message


def _text_part(content: str, subtype: str) -> MIMEPart:
    # MIMEPart rather than EmailMessage, so parts carry no stray MIME-Version header.
    part = MIMEPart(policy=_POLICY)
    # Quoted-printable keeps every line short and 7-bit clean, whatever relay sits between us
    # and the reader, while leaving the source readable.
    part.set_content(content, subtype=subtype, charset="utf-8", cte="quoted-printable")
    return part


def _check_message_id(message_id: str) -> None:
    inner = message_id[1:-1]
    if (
        not (message_id.startswith("<") and message_id.endswith(">"))
        or not message_id.isascii()
        or inner.count("@") != 1
        or any(c in inner for c in " \t\r\n<>")
    ):
        raise ValueError('message_id must look like "<local@domain>"')
