"""Every table, imported in one place so metadata (and alembic) sees them all."""

from shared.models.account_link import AccountLink, AccountLinkPurpose
from shared.models.alert import (
    Alert,
    AlertStatus,
    ClientHistory,
    Nudge,
    NudgeStatus,
    RepairOutcome,
)
from shared.models.appointment import Appointment, AppointmentStatus
from shared.models.audit import AuditEvent
from shared.models.contact import NudgeDelivery, NudgeDigest, NudgePreference, OptOutChange
from shared.models.delivery import (
    Notification,
    NotificationKind,
    NotificationStatus,
    OutboxEvent,
)
from shared.models.people import Account, ApiKey, AuthSession, Client, Role
from shared.models.practice import Practice, PracticeSettingsVersion
from shared.models.survey import (
    AccessToken,
    Invitation,
    InvitationStatus,
    Response,
    TokenPurpose,
)
from shared.models.tally import ErasedClientTally
from shared.models.work import WorkerHeartbeat, WorkFailure

__all__ = [
    "AccessToken",
    "Account",
    "AccountLink",
    "AccountLinkPurpose",
    "Alert",
    "AlertStatus",
    "ApiKey",
    "Appointment",
    "AppointmentStatus",
    "AuditEvent",
    "AuthSession",
    "Client",
    "ClientHistory",
    "ErasedClientTally",
    "Invitation",
    "InvitationStatus",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "Nudge",
    "NudgeDelivery",
    "NudgeDigest",
    "NudgePreference",
    "NudgeStatus",
    "OptOutChange",
    "OutboxEvent",
    "Practice",
    "PracticeSettingsVersion",
    "RepairOutcome",
    "Response",
    "Role",
    "TokenPurpose",
    "WorkFailure",
    "WorkerHeartbeat",
]
