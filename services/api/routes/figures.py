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
from shared.survey.moves import Move


class FiguresOut(Out):
    """What happened in a date range; a rate is null when there is nothing to divide by."""

    appointments_completed: int = Field(description="Sessions reported completed.")
    invitations_sent: int = Field(description="Survey invitations sent.")
    invitations_answered: int = Field(description="Of those, how many were answered.")
    response_rate: float | None = Field(description="Answered / sent, 0 to 1.")
    dips: int = Field(description="Alerts raised.")
    dips_per_100_appointments: float | None = Field(
        description="Alerts per 100 completed sessions."
    )
    nudges_sent: int = Field(description="Nudges sent to clinicians.")
    acknowledged: int = Field(description="Of the alerts, how many were marked addressed.")
    acknowledged_rate: float | None = Field(description="Acknowledged / alerts, 0 to 1.")
    repaired: int = Field(
        description="Of the alerts, how many the next answer showed repaired (back to the "
        "client's usual)."
    )
    not_repaired: int = Field(description="How many the next answer showed not repaired.")
    awaiting_answer: int = Field(description="Nudged alerts with no answer since: still open.")
    repair_rate: float | None = Field(description="Repaired / (repaired + not repaired), 0 to 1.")

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
    """One clinician's figures."""

    clinician_id: UUID = Field(description="The clinician.")
    name: str = Field(description="Their name.")
    figures: FiguresOut = Field(description="Their figures.")

    @classmethod
    def of(cls, row: ClinicianFigures) -> ClinicianFiguresOut:
        return cls(clinician_id=row.clinician_id, name=row.name, figures=FiguresOut.of(row.figures))


class MonthFiguresOut(Out):
    """One calendar month of the range, clipped to it."""

    month: str = Field(description="The calendar month, YYYY-MM.")
    first_day: date = Field(description="Its first day inside the range asked for.")
    last_day: date = Field(description="Its last day inside the range asked for.")
    overall: FiguresOut = Field(description="The practice's figures for the month.")
    by_clinician: list[ClinicianFiguresOut] = Field(description="Each clinician's.")


class MoveFiguresOut(Out):
    """How alerts that suggested one move turned out."""

    move: Move = Field(description="The suggested move.")
    alerts: int = Field(description="Alerts in the range that suggested this move.")
    repaired: int = Field(description="Of those, how many were repaired.")
    not_repaired: int = Field(description="How many were not repaired.")
    repair_rate: float | None = Field(description="Repaired / (repaired + not repaired).")

    @classmethod
    def of(cls, row: MoveFigures) -> MoveFiguresOut:
        return cls(**vars(row))


class PracticeFiguresOut(Out):
    """The practice's figures for a date range."""

    first_day: date = Field(description="The range's first day.")
    last_day: date = Field(description="Its last day, inclusive.")
    timezone: str = Field(description="The practice's time zone, which the days are in.")
    overall: FiguresOut = Field(description="The whole practice's figures.")
    by_clinician: list[ClinicianFiguresOut] = Field(description="Each clinician's.")
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
