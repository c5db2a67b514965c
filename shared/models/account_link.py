from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from shared.models._columns import enum_field, id_field, moment, practice_field


class AccountLinkPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"
    CLINICIAN_INVITATION = "clinician_invitation"


class AccountLink(SQLModel, table=True):
    """An emailed, single-use, expiring link that lets a person set their password.

    The token is minted when the email is composed and only its SHA-256 is kept; a retried
    send mints a new one, so only the newest email's link works.
    """

    __tablename__ = "account_link"
    __table_args__ = (Index("ix_account_link_expires", "expires_at"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    account_id: UUID = Field(foreign_key="account.id", index=True, ondelete="CASCADE")
    purpose: AccountLinkPurpose = enum_field(AccountLinkPurpose)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = moment()
    expires_at: datetime = moment()
    used_at: datetime | None = moment(nullable=True)
