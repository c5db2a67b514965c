"""Emailed single-use links that let a person set their password: a reset, or a clinician's
invitation. GET of a link changes nothing; only `use_link` spends it."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, require_owner
from shared.accounts.service import get_clinician
from shared.audit import AuditAction
from shared.db.claim import claim
from shared.errors import Conflict, Gone, NotFound
from shared.models import (
    Account,
    AccountLink,
    AccountLinkPurpose,
    AuthSession,
    NotificationKind,
)
from shared.notifications.queue import queue_notification
from shared.security import hash_password, hash_token, new_token, same_hash

NOTIFICATION_KIND = {
    AccountLinkPurpose.PASSWORD_RESET: NotificationKind.PASSWORD_RESET,
    AccountLinkPurpose.CLINICIAN_INVITATION: NotificationKind.CLINICIAN_INVITATION,
}
NOT_VALID = "This link is not valid. Please use the newest email you received."


def _send_link(
    session: Session,
    account: Account,
    purpose: AccountLinkPurpose,
    *,
    now: datetime,
    lifetime: timedelta,
) -> AccountLink:
    link = AccountLink(
        practice_id=account.practice_id,
        account_id=account.id,
        purpose=purpose,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(link)
    session.flush()
    queue_notification(
        session,
        practice_id=account.practice_id,
        kind=NOTIFICATION_KIND[purpose],
        key=f"{purpose.value}:{link.id}",
        subject_id=link.id,
        now=now,
    )
    return link


def request_password_reset(
    session: Session, *, email: str, now: datetime, lifetime: timedelta
) -> None:
    """Email a reset link if the address has an account. The caller answers the same either
    way, so the endpoint does not tell who has an account."""
    account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
    if account is not None:
        _send_link(session, account, AccountLinkPurpose.PASSWORD_RESET, now=now, lifetime=lifetime)


def invite_clinician(
    session: Session,
    principal: Principal,
    clinician_id: UUID,
    *,
    now: datetime,
    lifetime: timedelta,
) -> AccountLink:
    """Email a clinician a link to choose their password (again, if the last one expired)."""
    require_owner(principal)
    account = get_clinician(session, principal, clinician_id)
    if account.password_hash is not None:
        raise Conflict("This clinician has already set a password.", field="clinician_id")
    if account.deactivated_at is not None:
        raise Conflict(
            "Reactivate this clinician before inviting them again.", field="clinician_id"
        )
    link = _send_link(
        session, account, AccountLinkPurpose.CLINICIAN_INVITATION, now=now, lifetime=lifetime
    )
    audit.record(session, principal, AuditAction.CLINICIAN_INVITED, at=now, subject_id=account.id)
    return link


def latest_invitations(session: Session, account_ids: list[UUID]) -> dict[UUID, AccountLink]:
    """Each account's newest invitation link, for showing whether it is still waiting."""
    newest: dict[UUID, AccountLink] = {}
    if not account_ids:
        return newest
    for link in session.exec(
        select(AccountLink)
        .where(col(AccountLink.account_id).in_(account_ids))
        .where(AccountLink.purpose == AccountLinkPurpose.CLINICIAN_INVITATION)
        .order_by(col(AccountLink.created_at))
    ).all():
        newest[link.account_id] = link
    return newest


def mint_token(link: AccountLink) -> str:
    """Called when the email is composed: the raw token exists only in the email."""
    raw, digest = new_token()
    link.token_hash = digest
    return raw


def open_link(
    session: Session, raw_token: str, purpose: AccountLinkPurpose, *, now: datetime
) -> AccountLink:
    """The link a token stands for, if it may still be used. Changes nothing."""
    link = session.exec(
        select(AccountLink).where(AccountLink.token_hash == hash_token(raw_token))
    ).first()
    if link is None or link.token_hash is None or link.purpose is not purpose:
        raise NotFound(NOT_VALID)
    # The lookup is by hash already; compare again in constant time so the check never
    # depends on how the database compares strings.
    if not same_hash(link.token_hash, raw_token):
        raise NotFound(NOT_VALID)
    if link.used_at is not None:
        raise Gone("This link was already used. Ask for a new one if you still need it.")
    if link.expires_at <= now:
        raise Gone("This link has expired. Please ask for a new one.")
    return link


def use_link(
    session: Session,
    raw_token: str,
    purpose: AccountLinkPurpose,
    *,
    password: str,
    now: datetime,
) -> Account:
    """Spend the link and set the password; every earlier session and link of the account
    stops working, so a reset also locks out whoever knew the old password."""
    link = open_link(session, raw_token, purpose, now=now)
    if not claim(session, AccountLink, link.id, col(AccountLink.used_at).is_(None), used_at=now):
        raise Gone("This link was already used. Ask for a new one if you still need it.")
    account = session.get(Account, link.account_id)
    if account is None:
        raise NotFound(NOT_VALID)
    account.password_hash = hash_password(password)
    session.execute(
        update(AccountLink)
        .where(col(AccountLink.account_id) == account.id)
        .where(col(AccountLink.used_at).is_(None))
        .values(used_at=now)
    )
    session.execute(
        update(AuthSession)
        .where(col(AuthSession.account_id) == account.id)
        .where(col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    return account
