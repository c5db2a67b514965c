"""What the owner sees of the practice's emails: how each one went, and why one failed.

Recipients are left out on purpose: the list says what happened to a notification, not who
it was for (its subject id leads there for those allowed to look)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from shared.access import Principal, require_owner
from shared.models import Notification, NotificationKind, NotificationStatus
from shared.pagination import Order, Page, PageRequest, paginate


def list_notifications(
    session: Session,
    principal: Principal,
    *,
    status: NotificationStatus | None = None,
    kind: NotificationKind | None = None,
    page: PageRequest = PageRequest(),
) -> Page[Notification]:
    """The practice's notifications, newest first."""
    require_owner(principal)
    query = select(Notification).where(Notification.practice_id == principal.practice_id)
    if status is not None:
        query = query.where(Notification.status == status)
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return paginate(
        session,
        query,
        page,
        [
            Order(col(Notification.created_at), descending=True),
            Order(col(Notification.id), descending=True),
        ],
    )
