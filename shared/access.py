"""Who is acting, and what they may see. Every domain query is scoped through here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy.sql import Select
from sqlmodel import Session

from shared.errors import Forbidden, NotFound
from shared.models import Account, Role

Row = TypeVar("Row")
# Any SELECT (of one model, of a model and columns): scoping keeps the query's own type, so a
# scoped select(Client) still reads back Client rows.
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


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


def scoped(query: Query, model: Any, principal: Principal) -> Query:
    """Limit a query to the principal's practice and, for a clinician, their own caseload."""
    query = query.where(model.practice_id == principal.practice_id)
    if principal.is_clinician and hasattr(model, "clinician_id"):
        query = query.where(model.clinician_id == principal.account_id)
    return query


def visible(
    session: Session,
    model: type[Row],
    row_id: Any,
    principal: Principal,
    *,
    what: str,
    field: str | None = None,
) -> Row:
    """The one lookup of a row by id for a principal: the row, if it is in their practice
    and, for a clinician, in their own caseload (a model with `clinician_id`; an Account row
    is theirs only if it is their own); otherwise NotFound, the same answer as for an id that
    does not exist, so a probe learns nothing."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "practice_id", None) != principal.practice_id:
        raise NotFound(f"{what} not found.", field=field)
    if principal.is_clinician:
        caseload_of = row.id if isinstance(row, Account) else getattr(row, "clinician_id", None)
        if caseload_of is not None and caseload_of != principal.account_id:
            raise NotFound(f"{what} not found.", field=field)
    return row


def require_owner(principal: Principal) -> None:
    if not principal.is_owner:
        raise Forbidden("Only the practice owner can do this.")
