"""Row-level security on PostgreSQL: the statements the migrations run.

Three roles (README, "Database roles"):
- the owner runs migrations and owns every table;
- APP_ROLE is what the API and workers connect as. It owns nothing, has no BYPASSRLS, and
  sees only the rows of the practice its transaction names with
  set_config('app.practice_id', ..., true) (shared.db.engine.Database.transaction);
- SYSTEM_ROLE is Database.across_practices: it reads, across practices, only the columns
  that finding due work and resolving a credential need, and writes only the outbox's
  published time. It can read no email of a client, no answer, no comment.

A table that gains a practice_id column needs `enable_tenant_rls` in its migration;
tests/integration/test_row_security.py fails for any that lacks it.
"""

from __future__ import annotations

from collections.abc import Sequence

APP_ROLE = "attune_app"
SYSTEM_ROLE = "attune_system"
# The one function the application's role may call across practices: the practice id of a
# link's token hash, read with the system role's rights (migration 0016).
LINK_PRACTICE_FUNCTION = "answer_link_practice"

# A pooled connection that once ran set_config(..., true) reads '' afterwards, not NULL,
# hence nullif: '' must mean "no practice" (no rows), not an invalid-uuid error.
CURRENT_PRACTICE = "nullif(current_setting('app.practice_id', true), '')::uuid"


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def ensure_roles() -> list[str]:
    """The two login-less roles, created when missing. An operator gives them LOGIN and a
    password (docker-compose does it in infra/postgres/roles.sh). Tolerates another session
    creating them at the same moment."""
    return [
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END
        $$
        """
        for role in (APP_ROLE, SYSTEM_ROLE)
    ]


def enable_tenant_rls(table: str, column: str = "practice_id") -> list[str]:
    """Only the current practice's rows, for every role, the owner included (FORCE)."""
    t = _quote(table)
    rule = f"{_quote(column)} = {CURRENT_PRACTICE}"
    return [
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {t} USING ({rule}) WITH CHECK ({rule})",
    ]


def disable_tenant_rls(table: str) -> list[str]:
    t = _quote(table)
    return [
        f"DROP POLICY IF EXISTS tenant_isolation ON {t}",
        f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY",
    ]


def allow_system_reads(table: str, columns: Sequence[str]) -> list[str]:
    """Let the system role read these columns of every practice's rows, and nothing else."""
    t = _quote(table)
    listed = ", ".join(_quote(c) for c in columns)
    return [
        f"GRANT SELECT ({listed}) ON {t} TO {SYSTEM_ROLE}",
        f"CREATE POLICY system_reads ON {t} FOR SELECT TO {SYSTEM_ROLE} USING (true)",
    ]


def revoke_system_reads(table: str) -> list[str]:
    t = _quote(table)
    return [
        f"DROP POLICY IF EXISTS system_reads ON {t}",
        f"REVOKE ALL ON {t} FROM {SYSTEM_ROLE}",
    ]


def allow_system_locks(table: str, key: str = "id") -> list[str]:
    """Let the system role lock rows it finds (SELECT ... FOR UPDATE SKIP LOCKED, so two
    scheduler replicas skip each other's rows) without being able to change any: PostgreSQL
    asks for an UPDATE grant and an UPDATE policy to lock, and WITH CHECK (false) refuses every
    row an actual UPDATE would write."""
    t = _quote(table)
    return [
        f"GRANT UPDATE ({_quote(key)}) ON {t} TO {SYSTEM_ROLE}",
        f"CREATE POLICY system_locks ON {t} FOR UPDATE TO {SYSTEM_ROLE} "
        "USING (true) WITH CHECK (false)",
    ]


def revoke_system_locks(table: str, key: str = "id") -> list[str]:
    t = _quote(table)
    return [
        f"DROP POLICY IF EXISTS system_locks ON {t}",
        f"REVOKE UPDATE ({_quote(key)}) ON {t} FROM {SYSTEM_ROLE}",
    ]
