"""Who is acting, and what they may see. Every domain query is scoped through here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy.sql import Select

from shared.errors import Forbidden
from shared.models import Role


class PrincipalKind(StrEnum):
    ACCOUNT = "account"
    API_KEY = "api_key"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    practice_id: UUID
    account_id: UUID | None = None
    role: Role | None = None
    api_key_id: UUID | None = None

    @property
    def is_owner(self) -> bool:
        return self.kind is PrincipalKind.ACCOUNT and self.role is Role.OWNER

    @property
    def is_clinician(self) -> bool:
        return self.kind is PrincipalKind.ACCOUNT and self.role is Role.CLINICIAN

    @property
    def is_scheduling_system(self) -> bool:
        return self.kind is PrincipalKind.API_KEY


def scoped(query: Select[Any], model: Any, principal: Principal) -> Select[Any]:
    """Limit a query to the principal's practice and, for a clinician, their own caseload."""
    query = query.where(model.practice_id == principal.practice_id)
    if principal.is_clinician and hasattr(model, "clinician_id"):
        query = query.where(model.clinician_id == principal.account_id)
    return query


def require_owner(principal: Principal) -> None:
    if not principal.is_owner:
        raise Forbidden("Only the practice owner can do this.")
