"""docker-compose.yml cannot run here (no engine), so check it against the code instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from shared.cli.main import app
from shared.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SCHEDQ_SERVICES = {
    name: svc for name, svc in COMPOSE["services"].items() if svc.get("image") == "schedq:latest"
}


def test_expected_services_exist() -> None:
    assert {"postgres", "redis", "migrate", "worker", "flower"} <= set(COMPOSE["services"])


def test_redis_is_durable_and_never_evicts() -> None:
    cmd = COMPOSE["services"]["redis"]["command"]
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "noeviction"


def test_image_entrypoint_is_the_schedq_console_script() -> None:
    dockerfile = (REPO / ".ci" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["schedq"]' in dockerfile
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'schedq = "shared.cli.main:main"' in pyproject


@pytest.mark.parametrize("name", sorted(SCHEDQ_SERVICES))
def test_service_command_parses_with_the_real_cli(name: str) -> None:
    command: list[str] = SCHEDQ_SERVICES[name]["command"]
    group = typer.main.get_command(app)
    ctx = group.make_context("schedq", [command[0], "--help"], resilient_parsing=True)
    sub = group.get_command(ctx, command[0])  # type: ignore[attr-defined]
    assert sub is not None, f"{name}: 'schedq {command[0]}' is not a command"
    # make_context parses the options exactly as the CLI would, without running the command.
    sub.make_context(command[0], list(command[1:]), resilient_parsing=False)


@pytest.mark.parametrize("name", sorted(SCHEDQ_SERVICES))
def test_service_env_vars_are_real_settings(name: str) -> None:
    env: dict[str, Any] = SCHEDQ_SERVICES[name]["environment"]
    fields = {f"SCHEDQ_{f.upper()}" for f in Settings.model_fields}
    unknown = {k for k in env if k.startswith("SCHEDQ_")} - fields
    assert not unknown, f"{name}: unknown settings {unknown}"
    values = {k.removeprefix("SCHEDQ_").lower(): v for k, v in env.items()}
    # ${VAR:-default} interpolation: validate with the default compose would use.
    values = {
        k: v.split(":-", 1)[1].rstrip("}") if v.startswith("${") else v for k, v in values.items()
    }
    Settings(**values)


def test_services_wait_for_what_they_need() -> None:
    worker = COMPOSE["services"]["worker"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert COMPOSE["services"]["migrate"]["restart"] == "no"
