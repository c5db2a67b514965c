"""answer link practice: a survey answer finds its link's practice inside its own transaction

Revision ID: 0016
Revises: 0015

Branch: answer-path. A survey answer arrives with nothing but its link's token, and row-level
security needs the practice before the answer's transaction can read anything. Until now the
API asked the system role first (its own pool, its own round trip). This adds
`answer_link_practice(digest)`, which returns the practice id of one token hash and nothing
else, so the answer's transaction names its practice with
`set_config('app.practice_id', answer_link_practice(:digest)::text, true)` in the same round
trip as its first read (shared/survey/responses.py).

The grant decision (README, "Database roles and row-level security"):
- SECURITY DEFINER, owned by the system role, not by the owner: it reads with exactly the
  rights of the system role's link lookup it replaces (SELECT on access_token's token_hash and
  practice_id, its system_reads policy) and no more. The owner could not do it at all unless
  it bypasses row-level security: every tenant table is FORCEd, the owner included.
- STABLE, with a fixed search_path (pg_catalog, then pg_temp) and the table named with its
  schema, so no caller's search_path can put another table or function in its place.
- EXECUTE revoked from PUBLIC and granted to the application's role only. A caller learns what
  the system role's lookup told the API before: which practice a token hash belongs to, and
  only for a hash it already has (the hash of a 256-bit token, not something to guess).

Changing a function's owner needs membership in the new owner (a superuser has it); an owner
that created the roles itself (CREATEROLE) grants itself that membership first.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from shared.db.row_security import APP_ROLE, LINK_PRACTICE_FUNCTION, SYSTEM_ROLE

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = f"{LINK_PRACTICE_FUNCTION}(digest text)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"""
        CREATE FUNCTION "{schema}".{_SIGNATURE} RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, pg_temp
        AS $$ SELECT practice_id FROM "{schema}".access_token WHERE token_hash = digest $$
        """
    )
    op.execute(
        f"""
        DO $$ BEGIN
            IF NOT pg_has_role(current_user, '{SYSTEM_ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {SYSTEM_ROLE} TO %I', current_user);
            END IF;
        END $$
        """
    )
    op.execute(f'ALTER FUNCTION "{schema}".{_SIGNATURE} OWNER TO {SYSTEM_ROLE}')
    op.execute(f'REVOKE ALL ON FUNCTION "{schema}".{_SIGNATURE} FROM PUBLIC')
    op.execute(f'GRANT EXECUTE ON FUNCTION "{schema}".{_SIGNATURE} TO {APP_ROLE}')


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(f'DROP FUNCTION IF EXISTS "{schema}".{_SIGNATURE}')
