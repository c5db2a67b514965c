"""One `attune serve` per SQLite file, and nothing that replaces the file while it runs.

The lock is an advisory `flock` on `<database>.lock`, held for the life of the process: the
kernel releases it when the process ends however it ends (SIGKILL included), so a stale file
left by a crash never blocks a restart. The file holds the pid for the error message only.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from shared.errors import Conflict


def sqlite_path(database_url: str) -> Path:
    """The file behind a `sqlite:///...` URL; anything else is not an embedded instance."""
    if not database_url.startswith("sqlite:///") or database_url.endswith(":memory:"):
        raise ValueError(
            f"an embedded instance lives in a SQLite file (sqlite:///path/to/attune.db), "
            f"not {database_url.split('://', 1)[0]}://..."
        )
    return Path(database_url.removeprefix("sqlite:///"))


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


class InstanceLock:
    """Held by `attune serve` while it runs, and by restore and `db copy` while they work."""

    def __init__(self, database: Path, *, purpose: str) -> None:
        self.path = lock_path(database)
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Conflict(
                f"{self.path.with_suffix('')} is in use ({holder}); stop it first."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}, {self.purpose}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()


def running(database: Path) -> bool:
    """Whether some process holds the lock now (a probe: takes and drops it at once)."""
    try:
        with InstanceLock(database, purpose="probe"):
            return False
    except Conflict:
        return True
