"""What each id or token in an operation's path names, for /schema: one Annotated type per
kind of path parameter, so every route that takes it describes it the same way."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar.params import Parameter

AlertId = Annotated[UUID, Parameter(description="The alert's id (`id` in the alert).")]
AppointmentId = Annotated[
    UUID, Parameter(description="The appointment's id in Attune (`id` in the appointment).")
]
ExternalId = Annotated[
    str,
    Parameter(
        description="The scheduling system's own id for the appointment, as it gave it "
        "(`external_id`)."
    ),
]
ClientId = Annotated[UUID, Parameter(description="The client's id (`id` in the client).")]
ClinicianId = Annotated[
    UUID, Parameter(description="The clinician's account id (`id` in the clinician).")
]
ApiKeyId = Annotated[
    UUID, Parameter(description="The API key's id (`id` in the key's listing), not the key.")
]
SurveyToken = Annotated[
    str,
    Parameter(description="The single-use token in the survey link emailed to the client."),
]
UnsubscribeToken = Annotated[
    str,
    Parameter(description="The token in the unsubscribe link at the foot of a survey email."),
]
AccountLinkToken = Annotated[
    str,
    Parameter(description="The single-use token in the emailed password-reset or invitation link."),
]
