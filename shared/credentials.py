"""Which practice a credential belongs to.

A login, a session token, an API key and an emailed link all arrive before anyone knows the
practice, and row-level security shows nothing until it is known. So, besides the scheduler's
finds, these are the only reads that cross practices (Database.across_practices): each maps
one credential (by its hash, or a login email) to a practice id and nothing more. Every check
on the credential itself (expiry, revocation, purpose, the password) then runs inside that
practice, as the application's role.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlmodel import select

from shared.db import Database
from shared.models import AccessToken, Account, AccountLink, ApiKey, AuthSession
from shared.security import hash_token

API_KEY_PREFIX = "ak_"


def _practice(db: Database, query: Any) -> UUID | None:
    with db.across_practices(one_statement=True) as session:
        return session.exec(query).first()  # type: ignore[no-any-return]


def practice_of_credential(db: Database, raw: str) -> UUID | None:
    """A session token or an API key (they differ by prefix)."""
    digest = hash_token(raw)
    if raw.startswith(API_KEY_PREFIX):
        return _practice(db, select(ApiKey.practice_id).where(ApiKey.key_hash == digest))
    return _practice(db, select(AuthSession.practice_id).where(AuthSession.token_hash == digest))


def practice_of_link(db: Database, raw: str) -> UUID | None:
    """A survey or unsubscribe link's token."""
    return _practice(db, _link_practice(raw))


def _link_practice(raw: str) -> Any:
    digest = hash_token(raw)
    return select(AccessToken.practice_id).where(AccessToken.token_hash == digest)


def practice_of_account_link(db: Database, raw: str) -> UUID | None:
    """A password reset or clinician invitation link's token."""
    digest = hash_token(raw)
    return _practice(db, select(AccountLink.practice_id).where(AccountLink.token_hash == digest))


def practice_of_login(db: Database, email: str) -> UUID | None:
    email = email.strip().lower()
    return _practice(db, select(Account.practice_id).where(Account.email == email))
