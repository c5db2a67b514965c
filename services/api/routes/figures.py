from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.params import QueryParameter
from pydantic import Field

from services.api.auth import owner_only, people_only
from services.api.context import ApiContext
from services.api.schemas import Out
from shared.access import Principal
from shared.reporting.figures import Figures, MoveFigures
from shared.reporting.service import ClinicianFigures, practice_figures


class FiguresOut(Out):
    appointments_completed: int
    invitations_sent: int
    invitations_answered: int
    response_rate: float | None
    dips: int
    dips_per_100_appointments: float | None
    nudges_sent: int
    acknowledged: int
    acknowledged_rate: float | None
    repaired: int
    not_repaired: int
    awaiting_answer: int
    repair_rate: float | None

    @classmethod
    def of(cls, figures: Figures) -> FiguresOut:
        tally = figures.tally
        return cls(
            **vars(tally) | {"dips": tally.alerts},
            response_rate=figures.response_rate,
            dips_per_100_appointments=figures.dips_per_100_appointments,
            acknowledged_rate=figures.acknowledged_rate,
            repair_rate=figures.repair_rate,
        )


class ClinicianFiguresOut(Out):
    clinician_id: UUID
    name: str
    figures: FiguresOut

    @classmethod
    def of(cls, row: ClinicianFigures) -> ClinicianFiguresOut:
        return cls(clinician_id=row.clinician_id, name=row.name, figures=FiguresOut.of(row.figures))


class MonthFiguresOut(Out):
    month: str = Field(description="The calendar month, YYYY-MM.")
    first_day: date = Field(description="Its first day inside the range asked for.")
    last_day: date = Field(description="Its last day inside the range asked for.")
    overall: FiguresOut
    by_clinician: list[ClinicianFiguresOut]


class MoveFiguresOut(Out):
    move: str
    alerts: int = Field(description="Alerts in the range that suggested this move.")
    repaired: int
    not_repaired: int
    repair_rate: float | None

    @classmethod
    def of(cls, row: MoveFigures) -> MoveFiguresOut:
        return cls(**vars(row))


class PracticeFiguresOut(Out):
    first_day: date
    last_day: date
    timezone: str
    overall: FiguresOut
    by_clinician: list[ClinicianFiguresOut]
    by_month: list[MonthFiguresOut] = Field(
        description="The same figures for each calendar month in the range; they add up to "
        "the range's."
    )
    by_move: list[MoveFiguresOut] = Field(
        description="Repair rate per suggested move, over the alerts found in the range."
    )


class FiguresController(Controller):
    path = "/api/v1/figures"
    tags = ["figures"]
    guards = [people_only, owner_only]

    @get(
        "/", sync_to_thread=True, summary="Read the practice's figures", operation_id="readFigures"
    )
    def read(
        self,
        principal: Principal,
        context: ApiContext,
        first_day: Annotated[
            date, QueryParameter(description="First day (YYYY-MM-DD), in the practice's zone.")
        ],
        last_day: Annotated[date, QueryParameter(description="Last day, inclusive.")],
    ) -> PracticeFiguresOut:
        """Invitations sent, response rate, dips per 100 appointments, nudges sent,
        acknowledged and repair rate for a date range, overall and per clinician, and month
        by month; and the repair rate per suggested move. Owner only; reads only counts."""
        with context.transaction(principal) as session:
            found = practice_figures(session, principal, first_day=first_day, last_day=last_day)
            return PracticeFiguresOut(
                first_day=found.first_day,
                last_day=found.last_day,
                timezone=found.timezone,
                overall=FiguresOut.of(found.overall),
                by_clinician=[ClinicianFiguresOut.of(row) for row in found.by_clinician],
                by_month=[
                    MonthFiguresOut(
                        month=month.month.key,
                        first_day=month.month.first_day,
                        last_day=month.month.last_day,
                        overall=FiguresOut.of(month.overall),
                        by_clinician=[ClinicianFiguresOut.of(row) for row in month.by_clinician],
                    )
                    for month in found.by_month
                ],
                by_move=[MoveFiguresOut.of(row) for row in found.by_move],
            )
