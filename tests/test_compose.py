"""docker-compose.yml against the code it deploys.

No Docker engine is needed: the file is read as YAML and checked against the CLI parser, the
Settings model and the Dockerfile, so a renamed subcommand or setting breaks here rather than
in a container that exits at start-up. The Dockerfile's installs are checked against the runtime
lock: hashes required, the project without dependencies, nothing the project needs left out.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
OUR_DOCKERFILE = "infra/Dockerfile"

EXPECTED_SERVICES = {
    "postgres",
    "redis",
    "mailpit",
    "migrate",
    "api",
    "worker",
    "scheduler",
    "prometheus",
}
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"  # where the prom/prometheus image reads it
VALID_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    found = compose.get("services")
    assert isinstance(found, dict) and found, "docker-compose.yml has no services"
    return found


def _dockerfile(service: dict) -> Path:
    build = service["build"]
    if isinstance(build, str):
        build = {"context": build}
    return (ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).resolve()


@pytest.fixture(scope="module")
def app_services(services: dict[str, dict]) -> dict[str, dict]:
    ours = {name: svc for name, svc in services.items() if "build" in svc}
    # Without this, a compose file that stopped building our image would pass every
    # per-service check below by having nothing to check.
    assert set(ours) == {"migrate", "api", "worker", "scheduler"}
    return ours


@pytest.fixture(scope="module")
def parser():
    # Imported here so that a missing or broken CLI fails the tests that need it, not the
    # whole module.
    from services.cli import build_parser

    return build_parser()


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) for item in env)
        env = {key: (rest[0] if rest else "") for key, *rest in pairs}
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


def _with_defaults(value: str) -> str:
    """What compose would substitute with nothing set on the host."""
    return _INTERPOLATION.sub(lambda m: m.group("default") or "", value)


def _depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def test_all_services_are_declared(services):
    missing = EXPECTED_SERVICES - set(services)
    assert not missing, f"missing services: {sorted(missing)}"


def test_dockerfile_exists_and_runs_the_attune_entry_point(app_services):
    for name, svc in app_services.items():
        path = _dockerfile(svc)
        assert path == (ROOT / OUR_DOCKERFILE).resolve(), f"{name} builds from {path}"
        assert path.is_file(), f"{name}: {path} does not exist"

    text = (ROOT / OUR_DOCKERFILE).read_text()
    entrypoints = re.findall(r"^ENTRYPOINT\s+(.+)$", text, flags=re.MULTILINE)
    assert entrypoints, "Dockerfile has no ENTRYPOINT"
    # Compose commands are arguments to this entry point; a shell-form ENTRYPOINT would
    # drop them silently.
    assert json.loads(entrypoints[-1]) == ["attune"]

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts.get("attune") == "services.cli:main"

    users = re.findall(r"^USER\s+(\S+)", text, flags=re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}, "the image must not run as root"


def _dockerfile_commands(text: str) -> list[str]:
    """The Dockerfile's RUN commands, continuation lines joined, split at `&&`."""
    joined = re.sub(r"\\\n", " ", text)
    runs = re.findall(r"^RUN\s+(.+)$", joined, flags=re.MULTILINE)
    return [part.strip() for run in runs for part in run.split("&&")]


def _requirement_name(requirement: str) -> str:
    """PEP 503's normal form of a requirement's name, without extras or versions."""
    name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert name, requirement
    return re.sub(r"[-_.]+", "-", name.group(0)).lower()


def test_the_image_installs_the_hashed_lock_and_then_the_project_alone():
    """Every installed file is checked against the lock's hash, and the project adds nothing
    of its own choosing: a resolve at build time could bring in versions never tested."""
    text = (ROOT / OUR_DOCKERFILE).read_text()
    installs = [c.split() for c in _dockerfile_commands(text) if re.search(r"\bpip\b", c)]
    assert all(words[:2] == ["pip", "install"] for words in installs), installs
    assert len(installs) == 2, f"two installs, the lock's and the project's: {installs}"
    lock, project = installs
    assert "--require-hashes" in lock, "the lock is installed without checking hashes"
    lock_path = lock[lock.index("-r") + 1]
    assert lock_path == "requirements/runtime.txt"
    assert re.search(rf"^COPY\s+{re.escape(lock_path)}\s", text, flags=re.MULTILINE)
    assert "--no-deps" in project and project[-1] == ".", project
    # Every other argument of the project's install is an option: no second requirement.
    assert all(word.startswith("-") for word in project[2:-1]), project


def test_the_runtime_lock_pins_and_hashes_every_dependency_the_project_declares():
    joined = re.sub(r"\\\n", " ", (ROOT / "requirements/runtime.txt").read_text())
    entries = [line for line in joined.splitlines() if line.strip() and line[0].isalnum()]
    locked = {}
    for entry in entries:
        requirement, *options = entry.split()
        assert re.fullmatch(r"[A-Za-z0-9._-]+(\[[^]]*\])?==[^=;\s]+", requirement), entry
        assert any(o.startswith("--hash=sha256:") for o in options), f"no hash: {requirement}"
        locked[_requirement_name(requirement)] = requirement
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    # The project goes in with --no-deps: what the lock leaves out is missing in the image.
    missing = {_requirement_name(d) for d in declared} - set(locked)
    assert not missing, f"declared in pyproject.toml but not in the runtime lock: {missing}"


def test_the_data_services_are_probed_for_what_the_app_needs(services):
    """The database the app connects to answers (not only the server), and Redis answers."""
    postgres, redis = services["postgres"], services["redis"]
    pg_env = {k: _with_defaults(v) for k, v in _environment(postgres).items()}
    probe = " ".join(postgres["healthcheck"]["test"])
    assert "pg_isready" in probe
    assert re.search(rf"-d\s+{pg_env['POSTGRES_DB']}\b", probe), probe
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_every_role_runs_the_same_image(app_services):
    images = {name: svc.get("image") for name, svc in app_services.items()}
    assert len(set(images.values())) == 1 and None not in images.values(), images


def test_parser_rejects_an_unknown_command(parser):
    # Guards the next test: a parser that accepted anything would make it meaningless.
    with pytest.raises(SystemExit):
        parser.parse_args(["no-such-command"])


def test_every_app_command_is_accepted_by_the_cli(app_services, parser):
    for name, svc in app_services.items():
        command = svc.get("command")
        # A string command would be split by compose's own rules, which the parser below
        # never sees; exec form keeps what is tested identical to what runs.
        assert isinstance(command, list) and command, f"{name}: command must be a non-empty list"
        assert all(isinstance(part, str) for part in command), f"{name}: {command!r}"
        try:
            parser.parse_args(command)
        except SystemExit as exc:  # argparse's way of rejecting input
            pytest.fail(f"{name}: `attune {' '.join(command)}` rejected (exit {exc.code})")


def test_role_commands(app_services):
    assert app_services["migrate"]["command"] == ["db", "upgrade"]
    assert app_services["worker"]["command"][0] == "worker"
    assert app_services["scheduler"]["command"][0] == "scheduler"

    api = app_services["api"]["command"]
    assert api[0] == "api"
    # Inside a container, a loopback bind is unreachable through the published port.
    assert api[api.index("--host") + 1] == "0.0.0.0"
    port = api[api.index("--port") + 1]
    published = {str(p).rsplit(":", 1)[-1] for p in app_services["api"].get("ports", [])}
    assert port in published, f"api listens on {port} but publishes {sorted(published)}"


def test_depends_on_conditions_are_valid(services):
    for name, svc in services.items():
        for target, condition in _depends_on(svc).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert target != name, f"{name} depends on itself"
            assert condition in VALID_CONDITIONS, f"{name} -> {target}: {condition!r}"
            if condition == "service_healthy":
                assert services[target].get("healthcheck"), (
                    f"{name} waits for {target} to be healthy, but {target} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                # A service that restarts after exiting never counts as completed.
                restart = str(services[target].get("restart", "no"))
                assert restart in {"no", "on-failure"} or restart.startswith("on-failure:"), (
                    f"{name} waits for {target} to complete, but {target} restarts: {restart}"
                )


def test_depends_on_has_no_cycle(services):
    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        for target in _depends_on(services[name]):
            if target in services:
                visit(target, (*path, name))

    for name in services:
        visit(name, ())


def test_start_order(services):
    assert _depends_on(services["migrate"]).get("postgres") == "service_healthy"
    for name in ("api", "worker", "scheduler"):
        deps = _depends_on(services[name])
        # Starting before migrations finish means querying tables that do not exist yet.
        assert deps.get("migrate") == "service_completed_successfully", name
        assert deps.get("redis") == "service_healthy", name


def test_environment_names_are_known_settings(app_services):
    fields = set(Settings.model_fields)
    for name, svc in app_services.items():
        env = _environment(svc)
        assert env, f"{name} sets no environment"
        for key in env:
            assert key.startswith("ATTUNE_"), f"{name}: {key} is not an ATTUNE_ setting"
            field = key.removeprefix("ATTUNE_").lower()
            assert field in fields, f"{name}: {key} matches no field of shared.settings.Settings"


def test_app_services_share_one_environment(app_services):
    envs = {name: _environment(svc) for name, svc in app_services.items()}
    shared = envs["api"]
    for name in ("worker", "scheduler"):
        assert envs[name] == shared, f"{name}'s environment differs from the api's"
    # The owner's URL goes to the one-shot migration only, never to a long-running process.
    assert "ATTUNE_MIGRATION_DATABASE_URL" not in shared
    migrate = dict(envs["migrate"])
    assert migrate.pop("ATTUNE_MIGRATION_DATABASE_URL")
    assert migrate == shared


def _url(env: dict[str, str], key: str):
    return urlsplit(_with_defaults(env[key]))


def test_each_process_connects_as_its_own_database_role(app_services, services):
    from shared.db.row_security import APP_ROLE, SYSTEM_ROLE

    pg_env = {k: _with_defaults(v) for k, v in _environment(services["postgres"]).items()}
    api, migrate = _environment(app_services["api"]), _environment(app_services["migrate"])
    for env, key, role, password in (
        (api, "ATTUNE_DATABASE_URL", APP_ROLE, pg_env["ATTUNE_APP_DB_PASSWORD"]),
        (api, "ATTUNE_SYSTEM_DATABASE_URL", SYSTEM_ROLE, pg_env["ATTUNE_SYSTEM_DB_PASSWORD"]),
        (migrate, "ATTUNE_MIGRATION_DATABASE_URL", pg_env["POSTGRES_USER"], None),
    ):
        url = _url(env, key)
        assert url.hostname == "postgres", key
        assert url.path.lstrip("/") == pg_env["POSTGRES_DB"], key
        assert url.username == role, key
        assert url.password == (password or pg_env["POSTGRES_PASSWORD"]), key

    # The login roles are created by the init script postgres runs on its first start.
    mounts = [str(v) for v in services["postgres"].get("volumes", [])]
    script = next(m.split(":")[0] for m in mounts if "docker-entrypoint-initdb.d" in m)
    body = (ROOT / script).read_text()
    for role in (APP_ROLE, SYSTEM_ROLE):
        assert f"CREATE ROLE {role} LOGIN" in body
    for variable in ("ATTUNE_APP_DB_PASSWORD", "ATTUNE_SYSTEM_DB_PASSWORD"):
        assert f"${variable}" in body and variable in pg_env


def test_environment_selects_production_mode(app_services, services, monkeypatch):
    env = _environment(app_services["api"])
    for key in [k for k in os.environ if k.startswith("ATTUNE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, _with_defaults(value))

    # Validates types and choices (smtp_port, smtp_security) the way the processes will.
    settings = Settings()

    assert not settings.embedded, "compose must use Redis, not the in-process broker"
    assert settings.production_problems() == [], "the processes would refuse to start"
    assert not settings.is_sqlite, "compose must use PostgreSQL"

    db = urlsplit(settings.database_url)
    assert db.scheme.startswith("postgresql")
    assert db.hostname in services, f"database host {db.hostname} is not a compose service"
    assert settings.system_database_url, "the scheduler's finds need the system role"

    redis = urlsplit(settings.redis_url)
    assert redis.hostname in services, f"redis host {redis.hostname} is not a compose service"
    assert settings.smtp_host in services, f"SMTP host {settings.smtp_host} is not a service"


LONG_RUNNING = ("api", "worker", "scheduler")
_PROBE = re.compile(r"https?://127\.0\.0\.1:(?P<port>\d+)(?P<path>/health/(?:ready|live))\b")


def _listening_port(command: list[str], parser) -> int:
    """The port the process answers /health on: the API's own, or the ops port."""
    args = parser.parse_args(command)
    return int(args.port if command[0] == "api" else args.ops_port)


def _probe(service: dict) -> tuple[list[str], re.Match[str]]:
    test = service["healthcheck"]["test"]
    assert isinstance(test, list) and test[0] == "CMD", f"exec form, not a shell: {test!r}"
    found = _PROBE.search(" ".join(test))
    assert found, f"the healthcheck probes no /health/ready or /health/live: {test!r}"
    return test[1:], found


def test_every_attune_process_is_probed_on_the_port_it_answers(app_services, parser):
    from shared.health.readiness import TIMEOUT_SECONDS

    for name in LONG_RUNNING:
        svc = app_services[name]
        assert svc.get("healthcheck"), f"{name} has no healthcheck"
        _, found = _probe(svc)
        port = _listening_port(svc["command"], parser)
        assert int(found["port"]) == port, f"{name} answers on {port}, probed on {found['port']}"
        assert port, f"{name}'s health port is switched off (0)"
        # Long enough for a 503 naming what is away, rather than a probe that timed out.
        timeout = float(str(svc["healthcheck"].get("timeout", "30s")).removesuffix("s"))
        assert timeout > TIMEOUT_SECONDS, name
    assert "healthcheck" not in app_services["migrate"], "a one-shot has nothing to probe"


def test_worker_and_scheduler_ops_ports_differ_and_listen_beyond_loopback(app_services, parser):
    ports = {name: _listening_port(app_services[name]["command"], parser) for name in LONG_RUNNING}
    assert len(set(ports.values())) == len(ports), ports
    for name in ("worker", "scheduler"):
        # A Prometheus in another container scrapes /metrics here.
        assert parser.parse_args(app_services[name]["command"]).ops_host == "0.0.0.0", name


@pytest.mark.parametrize("ready", [True, False])
def test_the_healthcheck_command_fails_on_a_503(app_services, ready: bool):
    """Each probe as the container runs it (the image's python), pointed at a local ops server
    that answers 200 or 503: a probe that succeeded on any answer would never fail."""
    import subprocess
    import sys

    from services.ops_http import OpsServer
    from shared.health import Check, Report

    answer = Report((Check("database", ready, "" if ready else "unreachable (Refused)"),))
    server = OpsServer(live=Report, ready=lambda: answer).start()
    try:
        for name in LONG_RUNNING:
            command, found = _probe(app_services[name])
            assert command[0] == "python", f"{name}: the image has python, not {command[0]}"
            local = [
                part.replace(f":{found['port']}/", f":{server.port}/").replace(
                    "/health/live", "/health/ready"
                )
                for part in command[1:]
            ]
            run = subprocess.run([sys.executable, *local], capture_output=True, timeout=30)
            assert (run.returncode == 0) is ready, (name, run.stderr[-500:])
    finally:
        server.stop()


# Prometheus: every Attune process is scraped where it serves its metrics.


def _mounts(service: dict) -> dict[str, str]:
    """Container path -> host path of the service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        host, container, *_ = str(volume).split(":")
        if host.startswith("."):
            found[container] = host
    return found


@pytest.fixture(scope="module")
def scrape_jobs(services: dict[str, dict]) -> dict[str, dict]:
    prometheus = services["prometheus"]
    assert str(prometheus["image"]).startswith("prom/prometheus")
    config = _mounts(prometheus).get(PROMETHEUS_CONFIG)
    assert config, f"prometheus mounts nothing at {PROMETHEUS_CONFIG}"
    data = yaml.safe_load((ROOT / config).read_text())
    jobs = {job["job_name"]: job for job in data["scrape_configs"]}
    assert len(jobs) == len(data["scrape_configs"]), "two scrape jobs share a name"
    return jobs


def _targets(job: dict) -> list[str]:
    return [target for group in job.get("static_configs", []) for target in group["targets"]]


def test_prometheus_scrapes_each_process_on_the_port_and_path_it_serves(
    scrape_jobs, app_services, parser
):
    from services.metrics.http import METRICS_PATH

    scraped = {}
    for job in scrape_jobs.values():
        for target in _targets(job):
            host, port = target.rsplit(":", 1)
            scraped[host] = (int(port), job.get("metrics_path", "/metrics"), job)
    for name in LONG_RUNNING:
        assert name in scraped, f"no scrape job targets {name}"
        port, path, _ = scraped[name]
        command = app_services[name]["command"]
        assert port == _listening_port(command, parser), f"{name} is scraped on the wrong port"
        assert path == METRICS_PATH, f"{name} is scraped at {path}"
        if name == "api":
            # Inside its container the API must listen beyond loopback (checked above).
            assert parser.parse_args(command).host == "0.0.0.0"
        else:
            assert parser.parse_args(command).ops_host == "0.0.0.0", name


def test_the_ops_port_answers_the_scrape_path(scrape_jobs):
    """The worker's and scheduler's scrape path, asked of a real ops server."""
    import httpx

    from services.ops_http import OpsServer
    from shared.health import Report

    server = OpsServer(live=Report, ready=Report).start()
    try:
        for name in ("worker", "scheduler"):
            (job,) = [j for j in scrape_jobs.values() if any(name in t for t in _targets(j))]
            answer = httpx.get(f"http://127.0.0.1:{server.port}{job.get('metrics_path')}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"].startswith("text/plain"), name
    finally:
        server.stop()


def test_prometheus_sends_the_api_the_token_the_api_asks_for(
    scrape_jobs, compose, services, app_services
):
    (api_job,) = [j for j in scrape_jobs.values() if any("api:" in t for t in _targets(j))]
    authorization = api_job.get("authorization") or {}
    assert authorization.get("type", "Bearer") == "Bearer"
    path = authorization.get("credentials_file")
    assert path, "the API's /metrics needs its token; Prometheus sends none"
    mounted = {
        entry["target"]: entry["source"] for entry in services["prometheus"].get("configs", [])
    }
    assert path in mounted, f"nothing is mounted at {path}"
    content = compose["configs"][mounted[path]]["content"]
    token = _environment(app_services["api"])["ATTUNE_METRICS_TOKEN"]
    assert _with_defaults(content) == _with_defaults(token)
    # The same host variable, so setting one sets both.
    assert _INTERPOLATION.match(content)["name"] == _INTERPOLATION.match(token)["name"]


def test_only_the_api_publishes_its_metrics_beyond_the_compose_network(services):
    for name in ("worker", "scheduler"):
        # The ops ports answer without a token: they stay on the compose network.
        assert not services[name].get("ports"), f"{name} publishes its ops port"


def _exported_names() -> set[str]:
    """Every series name the Attune processes export, by the names Prometheus stores."""
    from datetime import UTC, datetime

    from prometheus_client import REGISTRY

    import services.metrics.http
    import services.metrics.messages  # noqa: F401
    from services.metrics.safety import gauges
    from services.metrics.scheduler import LAST_TICK, TICK
    from shared.work.backlog import Backlog

    nothing = Backlog(0, None, 0, None, {}, None, 0, None, {})
    # The scheduler's process registers these at its first tick, the safety figures are read
    # at scrape time: neither is in this process's registry.
    families = [
        *REGISTRY.collect(),
        *TICK.collect(),
        *LAST_TICK.collect(),
        *gauges(nothing, datetime.now(UTC)),
    ]
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    names = {"attune_safety_figures_up"}
    for family in families:
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
    return names


def test_prometheus_loads_alert_rules_on_series_the_processes_export(services):
    prometheus = services["prometheus"]
    mounts = _mounts(prometheus)
    config = yaml.safe_load((ROOT / mounts[PROMETHEUS_CONFIG]).read_text())
    exported = _exported_names()
    rule_files = config.get("rule_files") or []
    assert rule_files, "Prometheus loads no alert rules"
    for path in rule_files:
        assert path in mounts, f"{path} is not mounted into the prometheus container"
        groups = yaml.safe_load((ROOT / mounts[path]).read_text())["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        assert rules
        for rule in rules:
            used = set(re.findall(r"\battune_[a-z_]+\b", rule["expr"]))
            unknown = used - exported
            assert not unknown, f"{rule['alert']} watches series no process exports: {unknown}"
