"""Process settings, read from ATTUNE_* environment variables.

The defaults are the embedded mode: a SQLite file, an in-process broker and a local SMTP sink.
Setting ATTUNE_DATABASE_URL and ATTUNE_REDIS_URL switches to the production mode.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The secret the embedded mode runs with; production and `attune serve` refuse to start
# with it (sign-ins and the comments' key derive from it).
DEFAULT_SECRET_KEY = "dev-only-secret-change-me"
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    # Production refuses an http:// base_url (links in emails are credentials) unless this
    # says the installation is reachable only on a private network.
    private_network: bool = False
    # The reverse proxies in front of `attune api` (addresses or networks, comma-separated,
    # e.g. "10.0.0.5,10.1.0.0/16"). Only a request from one of them has its X-Forwarded-For
    # believed, so rate limits count the real client and not the proxy.
    trusted_proxies: str = ""

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
    # A session nobody used for this long is over, whatever its absolute limit says: a
    # clinic's shared computer left signed in must not stay open for the rest of the day.
    session_idle_minutes: int = Field(default=30, ge=1)
    password_reset_minutes: int = 60
    invitation_days: int = 7
    # Public endpoints: bucket -> (requests, seconds) per client address; JSON in the
    # environment, e.g. ATTUNE_RATE_LIMITS='{"login": [5, 60]}'. Buckets not named keep
    # these defaults.
    rate_limits: dict[str, tuple[int, int]] = Field(default_factory=dict)
    scheduler_interval_seconds: float = 2.0
    # A worker's relay publishes the moment PostgreSQL notifies it of a committed event, and
    # sweeps the outbox this often besides: for what a notification missed while its
    # connection was down, and for a pass that failed while the broker was away.
    relay_sweep_seconds: float = 5.0
    # Each worker process stamps its heartbeat row this often; three missed beats and its
    # claimed emails are handed back (shared.work.heartbeats).
    worker_heartbeat_seconds: float = 5.0
    # Redis: a worker process silent this long is dead, and its unacknowledged messages go
    # back on the queue (dramatiq's own heartbeat; its default is 60 s).
    broker_heartbeat_timeout_seconds: float = 15.0
    # How long the scheduler keeps what is done with: published outbox events, used or
    # expired links (survey, unsubscribe, reset, invitation) and ended sign-ins.
    retention_days: int = Field(default=30, ge=1, le=3650)
    log_level: str = "INFO"
    # The bearer token the API's /metrics asks for (services.metrics.http); unset, the API
    # serves no metrics. The worker and scheduler serve theirs on their ops port instead.
    metrics_token: str | None = Field(default=None, repr=False, min_length=16)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"ATTUNE_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IpNetwork, ...]:
        return tuple(ipaddress.ip_network(e, strict=False) for e in _entries(self.trusted_proxies))

    @property
    def retention(self) -> timedelta:
        return timedelta(days=self.retention_days)

    def production_problems(self) -> list[str]:
        """What makes these settings unsafe to serve real clients with, each naming the
        setting to fix; empty in the embedded mode, which is for trying Attune out."""
        if self.embedded:
            return []
        problems = []
        if self.secret_key == DEFAULT_SECRET_KEY or len(self.secret_key) < 32:
            problems.append(
                "ATTUNE_SECRET_KEY is the built-in default or shorter than 32 characters: set "
                "a long random value (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        if not _entries(self.comment_keys):
            problems.append(
                "ATTUNE_COMMENT_KEYS is not set: clients' comments would be encrypted with a key "
                "derived from the secret key; set one or more Fernet keys (README, Keys)"
            )
        if not self.base_url.startswith("https://") and not self.private_network:
            problems.append(
                f"ATTUNE_BASE_URL is {self.base_url!r}: links in emails are credentials and "
                "must use https://; if this installation is reachable only on a private "
                "network, say so with ATTUNE_PRIVATE_NETWORK=true"
            )
        return problems

    @property
    def session_lifetime(self) -> timedelta:
        return timedelta(hours=self.session_hours)

    @property
    def session_idle_limit(self) -> timedelta:
        return timedelta(minutes=self.session_idle_minutes)

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


def _entries(listed: str) -> list[str]:
    return [entry.strip() for entry in listed.split(",") if entry.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
