"""docker-compose.yml cannot run here (no engine), so check it against the code instead.

Every schedq service's command and healthcheck must parse with the real CLI, its variables must
be real settings, Prometheus must scrape the ports the commands open, and mounted files exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from schedq.cli.main import app
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SCHEDQ_SERVICES = {
    name: svc for name, svc in SERVICES.items() if svc.get("image") == "schedq:latest"
}
EXPECTED = {
    "postgres", "redis", "migrate", "worker-schedule", "worker-calendar", "beat", "flower",
    "exporter", "prometheus", "grafana",
}  # fmt: skip
# Healthcheck binaries of the third-party images (what those images ship).
IMAGE_PROBES = {"postgres": "pg_isready", "redis": "redis-cli", "prom/": "wget", "grafana/": "wget"}


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
    values = {k.removeprefix("SCHEDQ_").lower(): v for k, v in env.items()}
    # ${VAR:-default} interpolation: validate with the default compose would use.
    values = {
        k: v.split(":-", 1)[1].rstrip("}") if v.startswith("${") else v for k, v in values.items()
    }
    settings = Settings(**values)
    assert settings.env == "production"


def test_flower_requires_login_in_the_stack() -> None:
    env = SERVICES["flower"]["environment"]
    assert env["SCHEDQ_FLOWER_BASIC_AUTH"]
    assert env["SCHEDQ_ENV"] != "development"


def test_workers_per_queue_and_one_beat() -> None:
    assert option(SERVICES["worker-schedule"], "--queues") == "schedule"
    assert option(SERVICES["worker-calendar"], "--queues") == "calendar"
    assert option(SERVICES["worker-calendar"], "--pool") == "threads"
    assert "deploy" not in SERVICES["beat"]  # never scaled: one beat
    for name in ("worker-schedule", "worker-calendar"):
        node = option(SERVICES[name], "--hostname").split("@")[0]
        assert SERVICES[name]["healthcheck"]["test"][-1] == node


def test_services_wait_for_what_they_need() -> None:
    for name in ("worker-schedule", "worker-calendar", "beat", "exporter"):
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
    }
    assert targets == expected
    assert config["rule_files"] == ["alerts.yml"]


@pytest.mark.parametrize("name", ["prometheus", "grafana"])
def test_mounted_config_exists_in_the_repo(name: str) -> None:
    for volume in SERVICES[name]["volumes"]:
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (REPO / source).is_dir(), source
