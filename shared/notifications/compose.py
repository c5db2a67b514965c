"""Build the email a notification stands for, from the current state of its subject."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, bindparam, insert
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from shared.accounts.links import mint_token
from shared.alerts.explain import nudge_points
from shared.email.content import (
    AccountLinkEmail,
    DigestEmail,
    DigestEntry,
    NudgeEmail,
    NudgePoint,
    RenderedEmail,
    ScaleChoice,
    Sender,
    SurveyInvitationEmail,
)
from shared.email.message import OutgoingEmail, build_message, make_message_id
from shared.email.render import (
    render_account_link,
    render_digest,
    render_nudge,
    render_survey_invitation,
)
from shared.errors import NotFound
from shared.models import (
    AccessToken,
    Account,
    AccountLink,
    Alert,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    Client,
    Invitation,
    InvitationStatus,
    NotificationKind,
    Nudge,
    NudgeDigest,
    NudgeStatus,
    Practice,
    TokenPurpose,
)
from shared.practice.service import current_document, current_settings, settings_of
from shared.practice.settings import PracticeSettings
from shared.security import new_token
from shared.settings import Settings
from shared.survey.items import SCALE_LABELS
from shared.survey.moves import MOVE_ADVICE, MOVE_TITLES

UNSUBSCRIBE_LIFETIME = timedelta(days=365)
SURVEY_KINDS = (NotificationKind.SURVEY, NotificationKind.SURVEY_REMINDER)
# Where each emailed account link leads: a page whose GET shows a form and whose POST uses it.
ACCOUNT_LINK_PAGES = {
    NotificationKind.PASSWORD_RESET: ("account/reset", "Choose a new password for Attune"),
    NotificationKind.CLINICIAN_INVITATION: ("account/join", "Set up your Attune account"),
}


@dataclass(frozen=True)
class ClaimedNotification:
    """What composing needs of a notification row, as its claim returned it."""

    id: UUID
    practice_id: UUID
    key: str
    kind: NotificationKind
    subject_id: UUID
    attempts: int


_INVITATION = Invitation.__table__  # type: ignore[attr-defined]
_CLIENT = Client.__table__  # type: ignore[attr-defined]
_PRACTICE = Practice.__table__  # type: ignore[attr-defined]
_ACCESS_TOKEN = AccessToken.__table__  # type: ignore[attr-defined]


class SurveyFacts(NamedTuple):
    """What a survey email needs, as survey_facts() reads it."""

    id: UUID  # the invitation's
    practice_id: UUID
    status: InvitationStatus
    expires_at: datetime | None
    client_id: UUID | None
    email: str
    timezone: str
    opted_out_at: datetime | None
    version: int | None  # the practice's current settings version: keys the parsed settings
    body: dict[str, Any] | None


def survey_facts(invitation_id: ColumnElement[UUID]) -> Select[Any]:
    """The invitation, its client and the practice's current settings, in one read (columns as
    SurveyFacts); `invitation_id` is a bound parameter, or the column of a claim the read is
    joined to (shared.notifications.delivery)."""
    return (
        sa_select(
            _INVITATION.c.id,
            _INVITATION.c.practice_id,
            _INVITATION.c.status,
            _INVITATION.c.expires_at,
            _CLIENT.c.id.label("client_id"),
            _CLIENT.c.email,
            _CLIENT.c.timezone,
            _CLIENT.c.opted_out_at,
            _PRACTICE.c.settings_version.label("version"),
            current_document(_INVITATION.c.practice_id).label("body"),
        )
        .select_from(
            _INVITATION.outerjoin(_CLIENT, _CLIENT.c.id == _INVITATION.c.client_id).outerjoin(
                _PRACTICE, _PRACTICE.c.id == _INVITATION.c.practice_id
            )
        )
        .where(_INVITATION.c.id == invitation_id)
    )


# Built once: this runs for every survey email.
_SURVEY_READ = survey_facts(bindparam("invitation_id"))
ISSUE_TOKENS = insert(_ACCESS_TOKEN)

# A settings version never changes once written (a change makes a new version), so its parsed
# form can be kept; bounded so a process serving many practices does not grow without end.
_SETTINGS_CACHE_SIZE = 1024
_parsed_settings: dict[tuple[UUID, int], PracticeSettings] = {}


def _settings_version(practice_id: UUID, version: int, body: dict[str, Any]) -> PracticeSettings:
    key = (practice_id, version)
    settings = _parsed_settings.get(key)
    if settings is None:
        if len(_parsed_settings) >= _SETTINGS_CACHE_SIZE:
            _parsed_settings.clear()
        settings = _parsed_settings[key] = settings_of(body)
    return settings


class NothingToSend(Exception):
    """What the notification was about has changed since it was queued (the survey was
    answered, the client opted out, the appointment went away): it is called off, not failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _sender(settings: PracticeSettings, config: Settings) -> Sender:
    return Sender(
        display_name=settings.sender.display_name,
        address=config.mail_from_address,
        reply_to=settings.sender.reply_to,
    )


def _survey_email(
    found: SurveyFacts | None, notification: ClaimedNotification, config: Settings, now: datetime
) -> tuple[SurveyInvitationEmail, list[dict[str, Any]]]:
    """The email, and the rows of the two links it carries (to be stored before it goes)."""
    if found is None:
        raise NotFound("invitation is gone")
    if found.client_id is None:
        raise NotFound("client is gone")
    # Checked again at send time: an opt-out must hold from the click on, whatever was queued.
    if found.opted_out_at is not None:
        raise NothingToSend("the client opted out")
    if found.status is not InvitationStatus.SENT or (
        found.expires_at is not None and found.expires_at <= now
    ):
        raise NothingToSend(f"the survey is no longer open ({found.status.value})")
    if found.version is None or found.body is None:
        raise NotFound("Practice not found.")
    settings = _settings_version(found.practice_id, found.version, found.body)
    survey_token, survey_hash = new_token()
    unsubscribe_token, unsubscribe_hash = new_token()
    tokens = [
        {
            "token_hash": survey_hash,
            "practice_id": found.practice_id,
            "purpose": TokenPurpose.SURVEY,
            "subject_id": found.id,
            "created_at": now,
            "expires_at": found.expires_at,
        },
        {
            "token_hash": unsubscribe_hash,
            "practice_id": found.practice_id,
            "purpose": TokenPurpose.UNSUBSCRIBE,
            "subject_id": found.client_id,
            "created_at": now,
            "expires_at": now + UNSUBSCRIBE_LIFETIME,
        },
    ]
    base = config.base_url.rstrip("/")
    survey_url = f"{base}/s/{survey_token}"
    first = settings.items[0]
    expires = (found.expires_at or now).astimezone(ZoneInfo(found.timezone))
    return SurveyInvitationEmail(
        to_address=found.email,
        sender=_sender(settings, config),
        subject=settings.sender.survey_subject,
        first_question=first.prompt,
        choices=tuple(
            ScaleChoice(value=value, label=label, url=f"{survey_url}?{first.key}={value}")
            for value, label in SCALE_LABELS.items()
        ),
        survey_url=survey_url,
        unsubscribe_url=f"{base}/u/{unsubscribe_token}",
        expires_on=f"{expires:%A} {expires.day} {expires:%B}",
        crisis_line=settings.crisis_line,
        reminder=notification.kind is NotificationKind.SURVEY_REMINDER,
    ), tokens


def _appointment_entry(
    session: Session, nudge: Nudge, clinician: Account, config: Settings, now: datetime
) -> DigestEntry | None:
    """What a clinician may be told about one upcoming appointment, or None if nothing is
    left to say (the appointment went away or began, or its alerts were all addressed)."""
    appointment = session.get(Appointment, nudge.appointment_id)
    if (
        nudge.status is NudgeStatus.CANCELLED
        or appointment is None
        or appointment.status is not AppointmentStatus.SCHEDULED
        or appointment.starts_at <= now
    ):
        return None
    client = session.get(Client, appointment.client_id)
    if client is None:
        return None
    alerts = session.exec(
        select(Alert)
        .where(Alert.target_appointment_id == appointment.id)
        .where(Alert.status == AlertStatus.OPEN)
        .order_by(col(Alert.created_at))
    ).all()
    if not alerts:
        return None
    settings = current_settings(session, nudge.practice_id).settings
    items = {item.key: item for item in settings.known_items}
    evidence = [finding for alert in alerts for finding in alert.evidence]
    start = appointment.starts_at.astimezone(ZoneInfo(clinician.timezone))
    return DigestEntry(
        client_reference=client.reference,
        appointment_time=f"{start:%a} {start.day} {start:%b}, {start:%H:%M} ({clinician.timezone})",
        points=tuple(
            NudgePoint(move_title=MOVE_TITLES[move], reason=reason, advice=MOVE_ADVICE[move])
            for move, reason in nudge_points(evidence, items)
        ),
        alert_url=f"{config.base_url.rstrip('/')}/alerts/{alerts[0].id}",
    )


def _dashboard_url(config: Settings) -> str:
    return f"{config.base_url.rstrip('/')}/sessions"


def _nudge_email(
    session: Session, notification: ClaimedNotification, config: Settings, now: datetime
) -> tuple[str, NudgeEmail]:
    nudge = session.get(Nudge, notification.subject_id)
    if nudge is None:
        raise NotFound("nudge is gone")
    clinician = session.get(Account, nudge.clinician_id)
    if clinician is None:
        raise NotFound("clinician is gone")
    entry = _appointment_entry(session, nudge, clinician, config, now)
    if entry is None:
        raise NothingToSend("the appointment or its alerts are no longer current")
    settings = current_settings(session, nudge.practice_id).settings
    return clinician.email, NudgeEmail(
        to_address=clinician.email,
        sender=_sender(settings, config),
        subject=settings.sender.nudge_subject,
        clinician_name=clinician.name,
        client_reference=entry.client_reference,
        appointment_time=entry.appointment_time,
        points=entry.points,
        alert_url=entry.alert_url,
        dashboard_url=_dashboard_url(config),
    )


def _digest_email(
    session: Session, notification: ClaimedNotification, config: Settings, now: datetime
) -> tuple[str, DigestEmail]:
    digest = session.get(NudgeDigest, notification.subject_id)
    if digest is None:
        raise NotFound("digest is gone")
    clinician = session.get(Account, digest.clinician_id)
    if clinician is None:
        raise NotFound("clinician is gone")
    # Nudges fall due a fixed lead before their appointment: due order is the day's order.
    nudges = session.exec(
        select(Nudge)
        .where(col(Nudge.id).in_([UUID(nudge_id) for nudge_id in digest.nudge_ids]))
        .order_by(col(Nudge.due_at))
    ).all()
    entries = [
        entry
        for nudge in nudges
        if (entry := _appointment_entry(session, nudge, clinician, config, now)) is not None
    ]
    if not entries:
        raise NothingToSend("none of the day's appointments still has an open alert")
    settings = current_settings(session, digest.practice_id).settings
    day = date.fromisoformat(digest.local_date)
    return clinician.email, DigestEmail(
        to_address=clinician.email,
        sender=_sender(settings, config),
        subject=f"{settings.sender.nudge_subject}: {day:%a} {day.day} {day:%b}",
        clinician_name=clinician.name,
        day=f"{day:%A} {day.day} {day:%B}",
        entries=tuple(entries),
        dashboard_url=_dashboard_url(config),
    )


def _account_link_email(
    session: Session, notification: ClaimedNotification, config: Settings, now: datetime
) -> AccountLinkEmail:
    link = session.get(AccountLink, notification.subject_id)
    account = session.get(Account, link.account_id) if link else None
    practice = session.get(Practice, link.practice_id) if link else None
    if link is None or account is None or practice is None:
        raise NotFound("account link is gone")
    if link.used_at is not None or link.expires_at <= now:
        raise NotFound("account link was used or has expired")
    page, subject = ACCOUNT_LINK_PAGES[notification.kind]
    valid = link.expires_at - now
    hours = max(1, round(valid.total_seconds() / 3600))
    valid_for = f"{hours} hour{'s' * (hours != 1)}" if hours < 48 else f"{round(hours / 24)} days"
    settings = current_settings(session, link.practice_id).settings
    return AccountLinkEmail(
        to_address=account.email,
        sender=_sender(settings, config),
        subject=subject,
        person_name=account.name,
        practice_name=practice.name,
        action_url=f"{config.base_url.rstrip('/')}/{page}/{mint_token(link)}",
        valid_for=valid_for,
    )


def compose_survey(
    found: SurveyFacts | None, notification: ClaimedNotification, config: Settings, *, now: datetime
) -> tuple[OutgoingEmail, list[dict[str, Any]]]:
    """A survey email (or its reminder) from what survey_facts() read, and the rows of its two
    links (ISSUE_TOKENS), which the caller stores before sending. Survey links are minted
    here, at send time, and only their hashes are stored: the raw tokens exist in the outgoing
    email and nowhere else.

    Raises NothingToSend when the survey no longer calls for an email."""
    survey, tokens = _survey_email(found, notification, config, now)
    return _message(
        render_survey_invitation(survey),
        survey.sender,
        survey.to_address,
        notification,
        config,
        now,
    ), tokens


def compose(
    session: Session, notification: ClaimedNotification, config: Settings, *, now: datetime
) -> OutgoingEmail:
    """The message to send, read in `session` (see compose_survey for the links).

    Raises NothingToSend when what the notification was about no longer calls for an email."""
    rendered: RenderedEmail
    if notification.kind in SURVEY_KINDS:
        connection = session.connection()
        row = connection.execute(_SURVEY_READ, {"invitation_id": notification.subject_id}).first()
        message, tokens = compose_survey(
            SurveyFacts(*row) if row is not None else None, notification, config, now=now
        )
        # Both links in one INSERT.
        connection.execute(ISSUE_TOKENS, tokens)
        return message
    if notification.kind is NotificationKind.DIGEST:
        to_address, digest = _digest_email(session, notification, config, now)
        rendered, sender = render_digest(digest), digest.sender
    elif notification.kind in ACCOUNT_LINK_PAGES:
        account_link = _account_link_email(session, notification, config, now)
        rendered = render_account_link(account_link, notification.kind.value)
        to_address, sender = account_link.to_address, account_link.sender
    else:
        to_address, nudge = _nudge_email(session, notification, config, now)
        rendered, sender = render_nudge(nudge), nudge.sender
    return _message(rendered, sender, to_address, notification, config, now)


def _message(
    rendered: RenderedEmail,
    sender: Sender,
    to_address: str,
    notification: ClaimedNotification,
    config: Settings,
    now: datetime,
) -> OutgoingEmail:
    domain = config.mail_from_address.rsplit("@", 1)[-1]
    if notification.kind is NotificationKind.SURVEY_REMINDER:
        # Threads the reminder under the invitation it follows up, in the client's inbox.
        original = make_message_id(f"survey:{notification.subject_id}", domain)
        rendered = replace(
            rendered, headers={**rendered.headers, "In-Reply-To": original, "References": original}
        )
    return build_message(
        rendered,
        sender=sender,
        to_address=to_address,
        message_id=make_message_id(notification.key, domain),
        sent_at=now,
    )
