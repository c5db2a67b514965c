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


def troubled_notifications(
    session: Session, principal: Principal, *, page: PageRequest = PageRequest()
) -> Page[Notification]:
    """What the owner may need to act on, newest first: emails that failed for good, and
    those whose last attempt failed and that are waiting to be tried again."""
    require_owner(principal)
    failed = col(Notification.status) == NotificationStatus.FAILED
    retrying = col(Notification.status).in_(
        (NotificationStatus.PENDING, NotificationStatus.SENDING)
    ) & col(Notification.last_error).is_not(None)
    query = (
        select(Notification)
        .where(Notification.practice_id == principal.practice_id)
        .where(failed | retrying)
    )
    return paginate(
        session,
        query,
        page,
        [
            Order(col(Notification.created_at), descending=True),
            Order(col(Notification.id), descending=True),
        ],
    )
