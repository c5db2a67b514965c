"""The embedded mode's mailbox in the browser: what the local SMTP sink received.

Mounted only by `attune demo` (create_app's dev_mail_dir); production never serves it. The
email's HTML is shown inside a sandboxed iframe (no scripts, no same-origin access), passed
through srcdoc with the template's HTML escaping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from litestar import Controller, Request, get
from litestar.response import Template

from shared.email.sink import MailSink

# Links in a shown email open in a new tab instead of inside the small frame.
_OPEN_LINKS_OUTSIDE = '<base target="_blank">'
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Row:
    id: str
    received_at: datetime
    sent_at: datetime | None
    to: str
    subject: str


def _sink(request: Request) -> MailSink:
    directory = request.app.state.dev_mail_dir
    # Only reads: a sink that is never started opens the Maildir folder and nothing else.
    return MailSink(Path(directory))


def _sent_at(message: EmailMessage | None) -> datetime | None:
    value = message.get("Date") if message is not None else None
    if value is None:
        return None
    try:
        return parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None


def _part(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


class DevMailController(Controller):
    path = "/dev/mail"
    include_in_schema = False
    opt = {"public": True}

    @get("/", sync_to_thread=True)
    def index(self, request: Request) -> Template:
        """Every message the sink received, newest first."""
        sink = _sink(request)
        rows = [
            Row(
                id=stored.id,
                received_at=stored.received_at,
                sent_at=_sent_at(sink.get_message(stored.id)),
                to=", ".join(stored.recipients),
                subject=stored.subject,
            )
            for stored in sink.list_messages()
        ]
        return Template(
            template_name="dev_mail.html",
            context={"rows": rows, "directory": str(sink.directory)},
            headers=NO_STORE,
        )

    @get("/{message_id:str}", sync_to_thread=True)
    def show(self, message_id: str, request: Request) -> Template:
        """One message: its headers, its HTML in a sandboxed frame, and its plain text."""
        message = _sink(request).get_message(message_id)
        if message is None:
            return Template(
                template_name="message.html",
                context={
                    "title": "No such message",
                    "message": "The mail sink has no message with this id. "
                    "It is emptied each time the demo starts.",
                },
                status_code=404,
                headers=NO_STORE,
            )
        html = _part(message, "html")
        return Template(
            template_name="dev_mail_message.html",
            context={
                "id": message_id,
                "subject": str(message.get("Subject", "")),
                "headers": [(name, str(value)) for name, value in message.items()],
                "html": _OPEN_LINKS_OUTSIDE + html if html is not None else None,
                "text": _part(message, "plain"),
            },
            headers=NO_STORE,
        )
