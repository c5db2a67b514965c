from __future__ import annotations

from uuid import UUID

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.models._columns import id_field, practice_field


class ErasedClientTally(SQLModel, table=True):
    """What erased clients contributed to their practice's figures, summed per month.

    Erasure deletes the client and everything that names them (shared.privacy.erasure); these
    sums keep the practice's totals right without an email, a reference, a comment or a single
    answer that could point back at anyone.
    """

    __tablename__ = "erased_client_tally"
    __table_args__ = (UniqueConstraint("practice_id", "month"),)

    id: UUID = id_field()
    practice_id: UUID = practice_field()
    month: str = Field(max_length=7)  # "2026-03"
    clients_erased: int = 0
    sessions_completed: int = 0
    surveys_sent: int = 0
    surveys_answered: int = 0
    answer_mean_total: float = 0.0  # sum of the answers' means: / surveys_answered for a mean
    alerts_raised: int = 0
    alerts_acknowledged: int = 0
