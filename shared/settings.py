"""Process settings, read from ATTUNE_* environment variables.

The defaults are the embedded mode: a SQLite file, an in-process broker and a local SMTP sink.
Setting ATTUNE_DATABASE_URL and ATTUNE_REDIS_URL switches to the production mode.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# Refused by `attune serve`: sign-ins and the comments' key derive from it.
DEFAULT_SECRET_KEY = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATTUNE_", extra="ignore")

    database_url: str = "sqlite:///var/attune.db"
    # PostgreSQL only (README, "Database roles"). database_url is the application's role,
    # which owns no table and is held by row-level security; the system role may only find
    # due work and resolve credentials across practices; migrations run as the owner. Unset,
    # both fall back to database_url (SQLite has no roles).
    system_database_url: str | None = Field(default=None, repr=False)
    migration_database_url: str | None = Field(default=None, repr=False)
    redis_url: str | None = None
    redis_namespace: str = "attune"

    # Public address of the API, used in links inside emails.
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = Field(default=DEFAULT_SECRET_KEY, repr=False)
    # Fernet keys for clients' comments, comma-separated, newest first: new comments use the
    # first, any of them reads. Unset, one key is derived from secret_key (README, "Keys").
    comment_keys: str = Field(default="", repr=False)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_timeout_seconds: float = 10.0
    mail_from_address: str = "no-reply@attune.example"

    # Embedded mode only: where the local SMTP sink keeps what it receives.
    mail_sink_dir: str = "var/mail"
    dev_pages: bool = False

    session_hours: int = 8
    password_reset_minutes: int = 60
    invitation_days: int = 7
    # Public endpoints: bucket -> (requests, seconds) per client address; JSON in the
    # environment, e.g. ATTUNE_RATE_LIMITS='{"login": [5, 60]}'. Buckets not named keep
    # these defaults.
    rate_limits: dict[str, tuple[int, int]] = Field(default_factory=dict)
    scheduler_interval_seconds: float = 2.0
    log_level: str = "INFO"

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def password_reset_lifetime(self) -> timedelta:
        return timedelta(minutes=self.password_reset_minutes)

    @property
    def invitation_lifetime(self) -> timedelta:
        return timedelta(days=self.invitation_days)

    @property
    def embedded(self) -> bool:
        return self.redis_url is None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
