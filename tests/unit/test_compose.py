"""docker-compose.yml cannot run here (no engine), so check it against the code instead.

Every schedq service's command and healthcheck must parse with the real CLI, its variables must
be real settings, Prometheus must scrape the ports the commands open, and mounted files exist.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from schedq.cli.main import app, flower_may_run_open
from shared.crypto import generate_key
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SCHEDQ_SERVICES = {
    name: svc for name, svc in SERVICES.items() if svc.get("image") == "schedq:latest"
}
EXPECTED = {
    "postgres", "redis", "rabbitmq", "migrate", "worker-schedule", "worker-calendar", "beat",
    "beat-standby", "flower", "exporter", "gateway", "prometheus", "grafana",
}  # fmt: skip
# Healthcheck binaries of the third-party images (what those images ship).
IMAGE_PROBES = {
    "postgres": "pg_isready", "redis": "redis-cli", "rabbitmq": "rabbitmq-diagnostics",
    "prom/": "wget", "grafana/": "wget",
}  # fmt: skip


def parse_cli(args: list[str]) -> Any:
    """Resolve nested commands (``health live``) and parse options exactly as the CLI would."""
    command: Any = typer.main.get_command(app)
    path, rest = "schedq", list(args)
    # Duck-typed: recent typer ships its own copy of click, so isinstance(click.Group) fails.
    while hasattr(command, "list_commands"):
        assert rest, f"'{path}' needs a subcommand"
        name, rest = rest[0], rest[1:]
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"'{path} {name}' is not a command"
        command, path = sub, f"{path} {name}"
    return command.make_context(path, rest, resilient_parsing=False)


def option(svc: dict[str, Any], flag: str) -> str:
    command: list[str] = svc["command"]
    return command[command.index(flag) + 1]


def test_every_service_of_the_stack_exists() -> None:
    assert set(SERVICES) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_service_has_a_healthcheck_and_restart_policy(name: str) -> None:
    svc = SERVICES[name]
    assert svc["healthcheck"]["test"][0] == "CMD"
    # Everything restarts except the one-shot migration.
    assert svc["restart"] == ("no" if name == "migrate" else "unless-stopped")


def test_redis_is_durable_and_never_evicts() -> None:
    cmd = SERVICES["redis"]["command"]
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "noeviction"


def test_image_entrypoint_is_the_schedq_console_script() -> None:
    dockerfile = (REPO / ".ci" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["schedq"]' in dockerfile
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'schedq = "schedq.cli.main:main"' in pyproject


@pytest.mark.parametrize("name", sorted(SCHEDQ_SERVICES))
def test_service_command_parses_with_the_real_cli(name: str) -> None:
    command: list[str] = SCHEDQ_SERVICES[name]["command"]
    ctx = parse_cli(command)
    assert ctx.command.name == command[0]
    assert ctx.args == []  # every word was taken by an option, none left over
    # Each ``--flag value`` pair reached its parameter (as the type the CLI converts it to).
    pairs = dict(zip(command[1::2], command[2::2], strict=True))
    by_flag = {opt: p for p in ctx.command.params for opt in p.opts}
    for flag, value in pairs.items():
        assert str(ctx.params[by_flag[flag].name]) == value, flag


@pytest.mark.parametrize("name", sorted(SCHEDQ_SERVICES))
def test_service_healthcheck_is_a_real_schedq_command(name: str) -> None:
    test = SCHEDQ_SERVICES[name]["healthcheck"]["test"]
    assert test[1] == "schedq"
    ctx = parse_cli(test[2:])
    # The migration is healthy once the schema is ready; every long-running service when live.
    assert ctx.command.name == ("ready" if name == "migrate" else "live")


@pytest.mark.parametrize("name", sorted(set(EXPECTED) - set(SCHEDQ_SERVICES)))
def test_third_party_healthchecks_use_what_the_image_ships(name: str) -> None:
    svc = SERVICES[name]
    probe = next(p for prefix, p in IMAGE_PROBES.items() if svc["image"].startswith(prefix))
    assert svc["healthcheck"]["test"][1] == probe


@pytest.mark.parametrize("name", sorted(SCHEDQ_SERVICES))
def test_service_env_vars_are_real_settings(name: str) -> None:
    env: dict[str, Any] = SCHEDQ_SERVICES[name]["environment"]
    fields = {f"SCHEDQ_{f.upper()}" for f in Settings.model_fields}
    assert set(env) <= fields, f"{name}: unknown settings {set(env) - fields}"
    values = {k.removeprefix("SCHEDQ_").lower(): interpolate(v) for k, v in env.items()}
    settings = Settings(**values)
    assert settings.env == "production"


# What an operator would put in .env for the required variables (${VAR:?message}).
OPERATOR_VALUES = {
    "POSTGRES_PASSWORD": "pg-secret",
    "SCHEDQ_APP_DB_PASSWORD": "app-secret",
    "SCHEDQ_FLOWER_BASIC_AUTH": "ops:flower-secret",
    "SCHEDQ_ENCRYPTION_KEYS": generate_key(),
    "GRAFANA_ADMIN_PASSWORD": "grafana-secret",
    "RABBITMQ_PASSWORD": "rabbit-secret",
}
REFERENCE = re.compile(r"\$\{(\w+)(:[-?])([^}]*)\}")


def interpolate(value: Any) -> Any:
    """Compose's interpolation: ${VAR:-default} takes the default, ${VAR:?msg} the value an
    operator must supply (compose itself refuses to start without it)."""
    if not isinstance(value, str):
        return value
    return REFERENCE.sub(
        lambda m: m.group(3) if m.group(2) == ":-" else OPERATOR_VALUES[m.group(1)], value
    )


SECRET_WORDS = ("PASSWORD", "BASIC_AUTH", "ENCRYPTION_KEYS", "SECRET")


def test_no_secret_has_a_default_and_compose_refuses_to_start_without_it() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    assert "change-me" not in text
    found = 0
    for name, svc in SERVICES.items():
        for var, value in (svc.get("environment") or {}).items():
            if any(word in var for word in SECRET_WORDS) or "@" in str(value):
                refs = REFERENCE.findall(str(value))
                assert refs, f"{name}.{var} is a literal secret"
                assert all(op == ":?" for _, op, _ in refs), f"{name}.{var} has a default"
                found += 1
    assert found >= 5  # database URL(s), Postgres, Flower, Grafana, encryption keys


@pytest.mark.parametrize(
    ("environ", "open_allowed"),
    [({}, False), ({"SCHEDQ_ENV": "production"}, False), ({"SCHEDQ_ENV": "development"}, True)],
)
def test_flower_runs_without_login_only_when_development_is_explicit(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], open_allowed: bool
) -> None:
    monkeypatch.delenv("SCHEDQ_ENV", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    assert flower_may_run_open(Settings()) is open_allowed


def test_only_migrate_connects_as_the_owner_and_the_rest_as_the_app_role() -> None:
    owner = SERVICES["postgres"]["environment"]["POSTGRES_USER"]
    migrate = Settings(
        **{
            k.removeprefix("SCHEDQ_").lower(): interpolate(v)
            for k, v in SERVICES["migrate"]["environment"].items()
        }
    )
    role = migrate.app_db_role
    assert role != owner
    assert migrate.database_url.split("://", 1)[1].startswith(f"{owner}:")
    assert migrate.app_db_password is not None
    for name, svc in SCHEDQ_SERVICES.items():
        if name == "migrate":
            continue
        url = interpolate(svc["environment"]["SCHEDQ_DATABASE_URL"])
        user, rest = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)
        assert user == role, name
        assert rest == migrate.app_db_password.get_secret_value(), name


def test_encryption_keys_have_no_default_in_the_stack() -> None:
    env = COMPOSE["x-schedq-env"]
    assert env["SCHEDQ_ENCRYPTION_KEYS"].startswith("${SCHEDQ_ENCRYPTION_KEYS:?")


@pytest.mark.parametrize("name", ["worker-schedule", "worker-calendar"])
def test_workers_pass_the_startup_checks_with_their_pool(name: str) -> None:
    """Every job gets an enforced deadline: the pool each worker runs is checked like a worker
    checks itself at start (threads/eventlet/gevent/solo enforce no time limit)."""
    from worker.runtime.config import worker_config
    from worker.runtime.startup_checks import problems

    svc = SERVICES[name]
    env = {k.removeprefix("SCHEDQ_").lower(): v for k, v in svc["environment"].items()}
    settings = Settings(**{k: interpolate(v) for k, v in env.items()})
    ctx = parse_cli(svc["command"])
    assert problems(worker_config(settings), settings, pool=ctx.params["pool"]) == []


def test_flower_requires_login_in_the_stack() -> None:
    env = SERVICES["flower"]["environment"]
    assert env["SCHEDQ_FLOWER_BASIC_AUTH"]
    assert env["SCHEDQ_ENV"] != "development"


def test_workers_per_queue_and_two_beats() -> None:
    assert option(SERVICES["worker-schedule"], "--queues") == "schedule"
    assert option(SERVICES["worker-calendar"], "--queues") == "calendar"
    assert option(SERVICES["worker-calendar"], "--pool") == "prefork"
    # Two beats, the same command: one leads through the advisory lock, the other stands by.
    assert SERVICES["beat"]["command"] == SERVICES["beat-standby"]["command"]
    assert SERVICES["beat"]["command"][0] == "beat"
    worker_services = [n for n in SCHEDQ_SERVICES if n.startswith("worker-")]
    env = SCHEDQ_SERVICES["beat"]["environment"]
    assert int(env["SCHEDQ_WORKER_NODES"]) == len(worker_services)


def test_rabbitmq_profile_is_a_working_broker_choice() -> None:
    rabbit = SERVICES["rabbitmq"]
    assert rabbit["profiles"] == ["rabbitmq"]
    env = SCHEDQ_SERVICES["worker-schedule"]["environment"]
    # The broker is chosen by one variable (Redis unless set); Redis keeps cache and breaker.
    assert env["SCHEDQ_BROKER_URL"].startswith("${SCHEDQ_BROKER_URL:-redis://")
    assert env["SCHEDQ_REDIS_URL"].startswith("redis://redis:")
    amqp = Settings(
        broker_url=f"amqp://schedq:pw@rabbitmq:5672/{rabbit['environment']['RABBITMQ_DEFAULT_VHOST']}"
    )
    assert amqp.broker_is_amqp
    # Workers wait for RabbitMQ when its profile is up, and only then.
    for name in ("worker-schedule", "worker-calendar", "beat", "beat-standby", "exporter"):
        needs = SERVICES[name]["depends_on"]["rabbitmq"]
        assert needs == {"condition": "service_healthy", "required": False}
    for name in ("worker-schedule", "worker-calendar"):
        node = option(SERVICES[name], "--hostname").split("@")[0]
        assert SERVICES[name]["healthcheck"]["test"][-1] == node


def test_services_wait_for_what_they_need() -> None:
    waiting = ("worker-schedule", "worker-calendar", "beat", "beat-standby", "exporter", "gateway")
    for name in waiting:
        needs = SERVICES[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully"
        assert needs["redis"]["condition"] == "service_healthy"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_prometheus_scrapes_the_ports_the_commands_open() -> None:
    config = yaml.safe_load((REPO / "docs/ops/prometheus/prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    expected = {
        f"worker-schedule:{option(SERVICES['worker-schedule'], '--metrics-port')}",
        f"worker-calendar:{option(SERVICES['worker-calendar'], '--metrics-port')}",
        f"exporter:{option(SERVICES['exporter'], '--port')}",
        f"flower:{option(SERVICES['flower'], '--port')}",
        f"gateway:{option(SERVICES['gateway'], '--port')}",
    }
    assert targets == expected
    assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_mounted_config_exists_in_the_repo(name: str) -> None:
    for volume in SERVICES[name]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (REPO / source).is_dir(), source


def test_gateway_is_published_and_probed_on_the_port_it_serves() -> None:
    gateway = SERVICES["gateway"]
    port = option(gateway, "--port")
    assert option(gateway, "--host") == "0.0.0.0"
    assert gateway["ports"] == [f"{port}:{port}"]
    assert gateway["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/livez"
    assert gateway["environment"]["SCHEDQ_ENV"] == "production"
