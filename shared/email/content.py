"""What each email says, as plain values: the renderer turns these into a message.

Deliberately narrow: a nudge's content type has no field for a score, a comment, a name or an
email address of the client, so no template can leak one.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sender:
    display_name: str  # chosen by the practice; may not reveal that this is about therapy
    address: str
    reply_to: str | None = None


@dataclass(frozen=True)
class ScaleChoice:
    value: int  # 1..5
    label: str  # "Not at all" .. "Completely"
    url: str  # GET: opens the survey page with this answer pre-selected; stores nothing


@dataclass(frozen=True)
class SurveyInvitationEmail:
    to_address: str
    sender: Sender
    subject: str
    first_question: str  # the prompt of the practice's first item
    choices: tuple[ScaleChoice, ...]  # one-click buttons for the first question, 1..5
    survey_url: str  # the page without a pre-selected answer
    unsubscribe_url: str  # visible link; the page POSTs (RFC 8058 one-click in the header)
    expires_on: str  # e.g. "Thursday 26 November", in the client's time zone
    crisis_line: str
    reminder: bool = False


@dataclass(frozen=True)
class NudgePoint:
    move_title: str  # "Slow the pace"
    reason: str  # "The pace of the session was rated lower than usual." Never a score.
    advice: str  # how to do it, validate-first


@dataclass(frozen=True)
class NudgeEmail:
    to_address: str
    sender: Sender
    subject: str
    clinician_name: str
    client_reference: str  # pseudonymous
    appointment_time: str  # in the clinician's time zone, e.g. "Tue 1 Dec, 10:00 (Europe/Berlin)"
    points: tuple[NudgePoint, ...]
    alert_url: str
    dashboard_url: str


@dataclass(frozen=True)
class DigestEntry:
    """One appointment of the day: the same few facts a nudge gives, and no more."""

    client_reference: str  # pseudonymous
    appointment_time: str  # in the clinician's time zone
    points: tuple[NudgePoint, ...]
    alert_url: str


@dataclass(frozen=True)
class DigestEmail:
    to_address: str
    sender: Sender
    subject: str
    clinician_name: str
    day: str  # e.g. "Tuesday 3 March", the clinician's local date
    entries: tuple[DigestEntry, ...]
    dashboard_url: str


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AccountLinkEmail:
    """A password reset or a clinician's invitation: a link to set a password, nothing more."""

    to_address: str
    sender: Sender
    subject: str
    person_name: str
    practice_name: str
    action_url: str  # GET shows a form; only its POST uses the link up
    valid_for: str  # e.g. "1 hour", "7 days"
