"""A health answer: named checks, each passed or failed with a short reason.

Reasons are our own words (what failed and how, an exception's class name at most), never an
exception's message: those carry host names, ports and sometimes credentials, and the
answer is served without authentication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OK = 200
UNAVAILABLE = 503


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...] = ()

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failing(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    @property
    def status_code(self) -> int:
        return OK if self.ok else UNAVAILABLE

    def body(self) -> dict[str, Any]:
        """`status` for a glance, `failing` for an alert's text, `checks` for the reasons."""
        return {
            "status": "ok" if self.ok else "unavailable",
            "failing": self.failing,
            "checks": {
                check.name: {"ok": check.ok, **({"reason": check.reason} if check.reason else {})}
                for check in self.checks
            },
        }

    def __add__(self, other: Report) -> Report:
        return Report(self.checks + other.checks)
