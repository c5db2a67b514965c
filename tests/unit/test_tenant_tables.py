"""Every table that holds a practice's rows is put under row-level security by a migration.

The PostgreSQL suite checks the live catalogue (test_row_security.py); this check reads the
migration files, so it fails in the embedded run too when a new tenant table is forgotten.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlmodel import SQLModel

import shared.models  # noqa: F401

VERSIONS = Path(__file__).resolve().parents[2] / "infra" / "migrations" / "versions"


def _tables_given_row_security() -> set[str]:
    found: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "TENANT_TABLES"
                for target in node.targets
            ):
                assert isinstance(node.value, ast.List), path
                found |= {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "enable_tenant_rls"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


def test_every_table_with_a_practice_id_gets_row_level_security() -> None:
    tenant_tables = {
        table.name for table in SQLModel.metadata.sorted_tables if "practice_id" in table.columns
    }
    assert tenant_tables, "the models have tenant tables"
    missing = tenant_tables - _tables_given_row_security()
    assert missing == set(), f"call enable_tenant_rls in a migration for: {sorted(missing)}"
