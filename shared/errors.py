"""Domain errors. The API maps each to an HTTP status; workers log and drop them."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Gone(DomainError):
    """A link that expired or was already used."""

    status_code = 410


class Invalid(DomainError):
    status_code = 422
