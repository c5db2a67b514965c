"""outbox notify: a committed outbox event wakes the relays at once (PostgreSQL NOTIFY)

Revision ID: 0015
Revises: 0014

Branch: relay-notify. The relay ran as a thread in the API process, woken after every answer,
and took a fifth of the API's CPU per answer. It now runs in the worker processes, each
listening on one channel (services/worker/relay.py, RelayListener), and this trigger is what
wakes them: after an INSERT into outbox_event, one pg_notify on the channel.

Why a statement-level trigger with a transition table: NOTIFY is transactional (delivered at
commit, never on rollback) and PostgreSQL folds identical notifications of one transaction
into one, so a transaction that writes ten events wakes each listener once; the statement
level spares the per-row call, and the check on the new rows keeps an INSERT ... SELECT that
inserted nothing (a claim that found nothing, shared.outbox.emit_after) from waking anyone.
The payload is empty: a listener reads what to publish from the table, as the system role.

SQLite has no NOTIFY: the embedded mode keeps its in-process wake (one process does it all).
The channel's name is shared.outbox.CHANNEL; it is written out here so that this revision
stays what it was whatever the code later calls it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION outbox_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT FROM inserted) THEN
                PERFORM pg_notify('attune_outbox', '');
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event "
        "REFERENCING NEW TABLE AS inserted "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_event_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION IF EXISTS outbox_event_notify()")
