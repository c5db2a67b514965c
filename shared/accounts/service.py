"""Sign-in sessions, clinicians and the practice's API keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shared import audit
from shared.access import Principal, PrincipalKind, require_owner, visible
from shared.audit import AuditAction
from shared.errors import Conflict, DomainError, NotFound
from shared.models import Account, ApiKey, AuthSession, Role
from shared.pagination import Order, Page, PageRequest, paginate
from shared.security import hash_password, hash_token, new_token, password_matches


class BadCredentials(DomainError):
    """The email and password do not match an account, or the account was deactivated."""

    status_code = 401


def log_in(
    session: Session, *, email: str, password: str, now: datetime, lifetime: timedelta
) -> tuple[str, Account]:
    account = session.exec(select(Account).where(Account.email == email.strip().lower())).first()
    if not password_matches(account.password_hash if account else None, password):
        raise BadCredentials("Email or password is not right.")
    assert account is not None
    if account.deactivated_at is not None:
        raise BadCredentials(
            "This account was deactivated by the practice owner. Ask them to reactivate it."
        )
    return start_session(session, account, now=now, lifetime=lifetime), account


def start_session(session: Session, account: Account, *, now: datetime, lifetime: timedelta) -> str:
    """A new signed-in session for an account whose identity is already proven (a password,
    or a just-spent invitation link); returns the raw token, which only the caller holds."""
    raw, digest = new_token("s_")
    session.add(
        AuthSession(
            token_hash=digest,
            account_id=account.id,
            practice_id=account.practice_id,
            created_at=now,
            expires_at=now + lifetime,
            last_seen_at=now,
        )
    )
    return raw


def log_out(session: Session, raw_token: str, *, now: datetime) -> None:
    row = session.get(AuthSession, hash_token(raw_token))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now


# Writing last_seen_at on every request would turn each page view into a write; a minute's
# slack on an idle limit of half an hour or more changes nothing a person notices.
LAST_SEEN_PRECISION = timedelta(minutes=1)


def principal_for_session(
    session: Session, raw_token: str, *, now: datetime, idle_limit: timedelta
) -> Principal | None:
    """The session's account, if the session is live: not revoked, within its absolute
    lifetime, used within the idle limit, and its account not deactivated."""
    row = session.exec(
        select(AuthSession, Account)
        .join(Account, col(Account.id) == col(AuthSession.account_id))
        .where(AuthSession.token_hash == hash_token(raw_token))
    ).first()
    if row is None:
        return None
    auth, account = row
    last_seen = auth.last_seen_at or auth.created_at
    if (
        auth.revoked_at is not None
        or auth.expires_at <= now
        or now - last_seen >= idle_limit
        or account.deactivated_at is not None
    ):
        return None
    if now - last_seen >= LAST_SEEN_PRECISION:
        auth.last_seen_at = now
    return Principal(
        kind=PrincipalKind.ACCOUNT,
        practice_id=account.practice_id,
        account_id=account.id,
        role=account.role,
    )


def principal_for_api_key(session: Session, raw_key: str, *, now: datetime) -> Principal | None:
    key = session.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(raw_key))).first()
    if key is None or key.revoked_at is not None:
        return None
    # Coarse on purpose: one write a minute per key, not one per request.
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = now
    return Principal(kind=PrincipalKind.API_KEY, practice_id=key.practice_id, api_key_id=key.id)


def add_account(session: Session, account: Account, *, field: str) -> None:
    """Insert an account; a taken email is a 409. The email is unique across all practices,
    which row-level security hides from a query, so the unique index is what decides."""
    try:
        with session.begin_nested():
            session.add(account)
    except IntegrityError:
        raise Conflict("An account with this email already exists.", field=field) from None


def add_clinician(
    session: Session,
    principal: Principal,
    *,
    email: str,
    name: str,
    timezone: str,
    password: str | None,
    now: datetime,
) -> Account:
    require_owner(principal)
    account = Account(
        practice_id=principal.practice_id,
        email=email.strip().lower(),
        name=name,
        role=Role.CLINICIAN,
        timezone=timezone,
        password_hash=hash_password(password) if password else None,
        created_at=now,
    )
    add_account(session, account, field="email")
    audit.record(session, principal, AuditAction.CLINICIAN_ADDED, at=now, subject_id=account.id)
    return account


def _clinician_for_owner(session: Session, principal: Principal, clinician_id: UUID) -> Account:
    require_owner(principal)
    account = get_clinician(session, principal, clinician_id)
    if account.role is not Role.CLINICIAN:
        raise Conflict("The practice owner's own account cannot be deactivated.")
    return account


def deactivate_clinician(
    session: Session, principal: Principal, clinician_id: UUID, *, now: datetime
) -> Account:
    """The clinician can no longer sign in and is signed out everywhere; their clients,
    alerts and history stay. Deactivating again changes nothing."""
    account = _clinician_for_owner(session, principal, clinician_id)
    if account.deactivated_at is not None:
        return account
    account.deactivated_at = now
    session.execute(
        update(AuthSession)
        .where(col(AuthSession.account_id) == account.id)
        .where(col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=now)
    )
    audit.record(
        session, principal, AuditAction.CLINICIAN_DEACTIVATED, at=now, subject_id=account.id
    )
    return account


def reactivate_clinician(
    session: Session, principal: Principal, clinician_id: UUID, *, now: datetime
) -> Account:
    """The clinician may sign in again (with their old password). Again changes nothing."""
    account = _clinician_for_owner(session, principal, clinician_id)
    if account.deactivated_at is None:
        return account
    account.deactivated_at = None
    audit.record(
        session, principal, AuditAction.CLINICIAN_REACTIVATED, at=now, subject_id=account.id
    )
    return account


def list_accounts(
    session: Session, principal: Principal, *, page: PageRequest = PageRequest()
) -> Page[Account]:
    query = select(Account).where(Account.practice_id == principal.practice_id)
    if principal.is_clinician:
        query = query.where(Account.id == principal.account_id)
    return paginate(session, query, page, [Order(col(Account.created_at)), Order(col(Account.id))])


def get_clinician(session: Session, principal: Principal, clinician_id: UUID) -> Account:
    return visible(
        session, Account, clinician_id, principal, what="Clinician", field="clinician_id"
    )


def create_api_key(
    session: Session, principal: Principal, *, name: str, now: datetime
) -> tuple[str, ApiKey]:
    require_owner(principal)
    raw, digest = new_token("ak_")
    key = ApiKey(
        practice_id=principal.practice_id,
        name=name,
        prefix=raw[:10],
        key_hash=digest,
        created_at=now,
    )
    session.add(key)
    audit.record(session, principal, AuditAction.API_KEY_CREATED, at=now, subject_id=key.id)
    return raw, key


def list_api_keys(
    session: Session, principal: Principal, *, now: datetime, page: PageRequest = PageRequest()
) -> Page[ApiKey]:
    require_owner(principal)
    keys = paginate(
        session,
        select(ApiKey).where(ApiKey.practice_id == principal.practice_id),
        page,
        [Order(col(ApiKey.created_at)), Order(col(ApiKey.id))],
    )
    audit.record(session, principal, AuditAction.API_KEYS_LISTED, at=now, count=len(keys.items))
    return keys


def revoke_api_key(
    session: Session, principal: Principal, key_id: UUID, *, now: datetime
) -> ApiKey:
    require_owner(principal)
    key = session.get(ApiKey, key_id)
    if key is None or key.practice_id != principal.practice_id:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = now
        audit.record(session, principal, AuditAction.API_KEY_REVOKED, at=now, subject_id=key.id)
    return key
