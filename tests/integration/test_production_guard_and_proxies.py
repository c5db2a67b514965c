"""Production mode refuses unsafe settings by name; rate limits count the real client behind
a trusted proxy, and only behind a trusted one."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from services.api.rate_limit import real_client
from shared.privacy.encryption import derived_key
from shared.settings import DEFAULT_SECRET_KEY, Settings
from tests.support.processes import ATTUNE, REPO

LOGIN = {"email": "nobody@nowhere.example.com", "password": "guessing"}
GOOD = {
    "ATTUNE_REDIS_URL": "redis://127.0.0.1:1/0",  # production mode; never reached
    "ATTUNE_SECRET_KEY": "s" * 48,
    "ATTUNE_COMMENT_KEYS": derived_key("another secret"),
    "ATTUNE_BASE_URL": "https://attune.example",
}


@pytest.fixture
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    return settings.model_copy(
        update={
            "rate_limits": {"login": (2, 60)},
            "trusted_proxies": getattr(request, "param", ""),
        }
    )


def start_refused(command: str, env: dict[str, str]) -> str:
    """Start `attune <command>` with these settings; it must exit at once, saying why."""
    clean = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", **env}
    done = subprocess.run(
        [*ATTUNE, command], env=clean, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0, done
    return done.stderr


@pytest.mark.parametrize(
    ("command", "changed", "named"),
    [
        ("api", {"ATTUNE_SECRET_KEY": DEFAULT_SECRET_KEY}, "ATTUNE_SECRET_KEY"),
        ("worker", {"ATTUNE_SECRET_KEY": "short"}, "ATTUNE_SECRET_KEY"),
        ("scheduler", {"ATTUNE_COMMENT_KEYS": ""}, "ATTUNE_COMMENT_KEYS"),
        ("api", {"ATTUNE_BASE_URL": "http://attune.example"}, "ATTUNE_PRIVATE_NETWORK"),
    ],
)
def test_production_refuses_to_start_naming_the_setting(
    command: str, changed: dict[str, str], named: str
) -> None:
    stderr = start_refused(command, {**GOOD, **changed})
    assert "will not start" in stderr and named in stderr, stderr
    # Only that setting is named: the others are fine.
    for other in {"ATTUNE_SECRET_KEY", "ATTUNE_COMMENT_KEYS", "ATTUNE_BASE_URL"} - {named}:
        if other != "ATTUNE_BASE_URL" or named != "ATTUNE_PRIVATE_NETWORK":
            assert f"- {other}" not in stderr, stderr


def test_the_settings_check_passes_what_production_needs() -> None:
    good = Settings(
        redis_url=GOOD["ATTUNE_REDIS_URL"],
        secret_key=GOOD["ATTUNE_SECRET_KEY"],
        comment_keys=GOOD["ATTUNE_COMMENT_KEYS"],
        base_url=GOOD["ATTUNE_BASE_URL"],
    )
    assert good.production_problems() == []
    private = good.model_copy(update={"base_url": "http://10.0.0.4:8000", "private_network": True})
    assert private.production_problems() == []
    assert Settings(redis_url=None).production_problems() == []  # the embedded mode
    everything_wrong = Settings(redis_url=GOOD["ATTUNE_REDIS_URL"])
    assert len(everything_wrong.production_problems()) == 3


def test_a_wrong_trusted_proxy_is_refused_by_name() -> None:
    stderr = start_refused("api", {**GOOD, "ATTUNE_TRUSTED_PROXIES": "10.0.0.1,proxy.local"})
    assert "ATTUNE_TRUSTED_PROXIES" in stderr and "proxy.local" in stderr
    done = subprocess.run(
        [*ATTUNE, "api", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert "--trusted-proxies" in done.stdout


def _login(http: httpx.Client, forwarded_for: str | None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return http.post("/api/v1/auth/login", json=LOGIN, headers=headers).status_code


@pytest.mark.parametrize("settings", ["127.0.0.1,10.0.0.0/8"], indirect=True)
def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(http: httpx.Client) -> None:
    # The test's connection comes from 127.0.0.1: a trusted proxy here.
    assert [_login(http, "203.0.113.7") for _ in range(2)] == [401, 401]
    assert _login(http, "203.0.113.7") == 429
    # Another client behind the same proxy is not held back by the first.
    assert _login(http, "198.51.100.9") == 401
    # A client cannot escape its bucket by writing addresses of its own in front: the proxy
    # appends the address it saw, and only that one counts.
    assert _login(http, "192.0.2.1, 203.0.113.7") == 429
    # Hops through a second trusted proxy are skipped to reach the client.
    assert _login(http, "203.0.113.7, 10.1.2.3") == 429


@pytest.mark.parametrize("settings", ["10.0.0.0/8"], indirect=True)
def test_from_an_untrusted_peer_the_forwarded_header_is_ignored(http: httpx.Client) -> None:
    # 127.0.0.1 is not a trusted proxy: whatever it claims, it is one client.
    assert _login(http, "203.0.113.7") == 401
    assert _login(http, "198.51.100.9") == 401
    assert _login(http, "192.0.2.55") == 429
    assert _login(http, None) == 429


def test_real_client_reads_the_chain_from_the_right() -> None:
    from ipaddress import ip_network

    trusted = (ip_network("10.0.0.0/8"), ip_network("2001:db8::/32"))
    assert real_client("10.0.0.1", ["203.0.113.7"], trusted) == "203.0.113.7"
    assert real_client("10.0.0.1", ["1.1.1.1, 203.0.113.7, 10.0.0.9"], trusted) == "203.0.113.7"
    assert real_client("10.0.0.1", ["1.1.1.1", "203.0.113.7"], trusted) == "203.0.113.7"
    assert real_client("2001:db8::1", ["2001:db9::5"], trusted) == "2001:db9::5"
    assert real_client("192.0.2.1", ["203.0.113.7"], trusted) == "192.0.2.1"
    assert real_client("10.0.0.1", [], trusted) == "10.0.0.1"
    assert real_client("10.0.0.1", ["not-an-address"], trusted) == "10.0.0.1"
    assert real_client("10.0.0.1", ["203.0.113.7"], ()) == "10.0.0.1"
