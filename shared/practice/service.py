"""Practices and their versioned settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime as datetime_t
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import ColumnElement, ScalarSelect
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, require_owner
from shared.accounts.service import add_account
from shared.audit import AuditAction
from shared.errors import Invalid, NotFound
from shared.models import Account, Practice, PracticeSettingsVersion, Role
from shared.practice.changes import settings_changes
from shared.practice.settings import PracticeSettings, merged, missing_fields
from shared.security import hash_password


@dataclass(frozen=True)
class CurrentSettings:
    version: int
    settings: PracticeSettings


def sign_up(
    session: Session,
    *,
    practice_id: UUID,
    practice_name: str,
    owner_email: str,
    owner_name: str,
    password: str,
    timezone: str,
    now: datetime_t,
    crisis_line: str | None = None,
) -> tuple[Practice, Account]:
    """A new practice, its owner and its first settings (the owner's time zone, and the
    crisis line its clients are shown, if given)."""
    practice = Practice(id=practice_id, name=practice_name, created_at=now)
    owner = Account(
        practice_id=practice.id,
        email=owner_email.strip().lower(),
        name=owner_name,
        role=Role.OWNER,
        timezone=timezone,
        password_hash=hash_password(password),
        created_at=now,
    )
    settings = PracticeSettings(
        timezone=timezone, **({"crisis_line": crisis_line} if crisis_line else {})
    )
    session.add(practice)
    session.flush()
    add_account(session, owner, field="owner_email")
    session.add(
        PracticeSettingsVersion(
            practice_id=practice.id,
            version=1,
            body=settings.model_dump(mode="json"),
            created_by=owner.id,
            created_at=now,
        )
    )
    return practice, owner


def current_settings(session: Session, practice_id: UUID) -> CurrentSettings:
    row = session.exec(select(PracticeSettingsVersion).where(*_current(practice_id))).first()
    if row is None:
        raise NotFound("Practice not found.")
    return CurrentSettings(version=row.version, settings=settings_of(row.body))


def current_document(practice_id: Mapped[UUID] | UUID) -> ScalarSelect[dict[str, Any]]:
    """The practice's current settings document as stored, as a column of a larger read (an
    act that needs the settings beside other rows reads them in one statement); settings_of
    makes it the settings."""
    return select(PracticeSettingsVersion.body).where(*_current(practice_id)).scalar_subquery()


def settings_of(document: dict[str, Any] | None) -> PracticeSettings:
    if document is None:
        raise NotFound("Practice not found.")
    return PracticeSettings.model_validate(document)


def _current(practice_id: Mapped[UUID] | UUID) -> list[ColumnElement[bool]]:
    return [
        col(Practice.id) == col(PracticeSettingsVersion.practice_id),
        col(PracticeSettingsVersion.practice_id) == practice_id,
        col(PracticeSettingsVersion.version) == col(Practice.settings_version),
    ]


def read_settings(session: Session, principal: Principal, *, now: datetime_t) -> CurrentSettings:
    """current_settings for a person's eyes: the read is audited."""
    current = current_settings(session, principal.practice_id)
    audit.record(session, principal, AuditAction.SETTINGS_READ, at=now, version=current.version)
    return current


def update_settings(
    session: Session, principal: Principal, settings: PracticeSettings, *, now: datetime_t
) -> CurrentSettings:
    require_owner(principal)
    practice = session.exec(
        select(Practice).where(Practice.id == principal.practice_id).with_for_update()
    ).one()
    current = current_settings(session, principal.practice_id)
    if current.settings == settings:
        return current  # saving the same settings again (a retry) makes no new version
    practice.settings_version += 1
    session.add(
        PracticeSettingsVersion(
            practice_id=practice.id,
            version=practice.settings_version,
            body=settings.model_dump(mode="json"),
            created_by=principal.account_id,
            created_at=now,
        )
    )
    audit.record(
        session, principal, AuditAction.SETTINGS_CHANGED, at=now, version=practice.settings_version
    )
    return CurrentSettings(version=practice.settings_version, settings=settings)


def replace_settings(
    session: Session, principal: Principal, document: PracticeSettings, *, now: datetime_t
) -> CurrentSettings:
    """A PUT: the whole document, every field present (require_whole)."""
    require_whole(document, "The settings are replaced as a whole document")
    return update_settings(session, principal, document, now=now)


def require_whole(document: PracticeSettings, what: str, *, field_prefix: str = "") -> None:
    """Refuse a settings document that leaves a field out, naming every one missing, rather
    than take it at its default: a partial body silently reset the practice's time zone and
    every rule it did not name. What a PUT saves and what a preview tries are held to it
    alike, so a preview shows what that document would do if saved."""
    missing = missing_fields(document)
    if missing:
        raise Invalid(
            f"{what}, and these fields are missing: {', '.join(missing)}. Send every field "
            "(as GET /api/v1/settings returns them); to change only some, PATCH "
            "/api/v1/settings.",
            field=f"{field_prefix}{missing[0]}",
        )


def change_settings(
    session: Session, principal: Principal, changes: dict[str, Any], *, now: datetime_t
) -> CurrentSettings:
    """A PATCH: the named fields laid over the current settings (objects merge, anything
    else replaces), validated as a whole and saved as a new version."""
    require_owner(principal)
    current = current_settings(session, principal.practice_id)
    return update_settings(session, principal, merged(current.settings, changes), now=now)


@dataclass(frozen=True)
class SettingsChange:
    version: PracticeSettingsVersion
    author_name: str | None  # None once the account that made it is gone
    changes: list[str]  # what differs from the version before, in words (none for the first)


def _as_stored(body: dict[str, Any]) -> dict[str, Any]:
    """A stored version with today's defaults filled in, so a field added since it was saved
    does not read as a change; a body today's rules refuse is compared as stored."""
    try:
        return PracticeSettings.model_validate(body).model_dump(mode="json")
    except ValidationError:
        return body


def settings_history(
    session: Session, principal: Principal, *, now: datetime_t
) -> list[SettingsChange]:
    """Every version of the practice's settings, newest first, with who saved it."""
    require_owner(principal)
    rows = session.exec(
        select(PracticeSettingsVersion, Account.name)
        .join(Account, col(Account.id) == col(PracticeSettingsVersion.created_by), isouter=True)
        .where(PracticeSettingsVersion.practice_id == principal.practice_id)
        .order_by(col(PracticeSettingsVersion.version).desc())
    ).all()
    audit.record(session, principal, AuditAction.SETTINGS_HISTORY_READ, at=now)
    bodies = [_as_stored(version.body) for version, _ in rows]
    return [
        SettingsChange(
            version,
            name,
            settings_changes(bodies[index + 1] if index + 1 < len(rows) else None, body),
        )
        for index, ((version, name), body) in enumerate(zip(rows, bodies, strict=True))
    ]
