"""Flower shows task names, ids and timings: it never starts without a login by accident.

Issue 13 item 8: ``schedq flower`` ran without a login whenever SCHEDQ_ENV was simply unset (the
default environment is development). Now only an explicit SCHEDQ_ENV=development runs it open.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from schedq.processes import free_port, spawn, stop
from tests.conftest import wait_until


def flower_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("SCHEDQ_ENV", "SCHEDQ_FLOWER_BASIC_AUTH")
    }
    return {**env, **extra}


def run_flower(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "schedq.cli.main", "flower", "--port", str(free_port())]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_flower_refuses_to_start_without_a_login_when_env_is_unset() -> None:
    done = run_flower(flower_env())
    assert done.returncode == 2
    assert "SCHEDQ_FLOWER_BASIC_AUTH is required" in done.stdout + done.stderr


def test_flower_refuses_to_start_without_a_login_in_production() -> None:
    done = run_flower(flower_env(SCHEDQ_ENV="production"))
    assert done.returncode == 2


def test_flower_with_a_login_refuses_anonymous_requests(redis_url: str, tmp_path: Path) -> None:
    port = free_port()
    proc = spawn(
        ["schedq.cli.main", "flower", "--port", str(port)],
        {"SCHEDQ_ENV": "test", "SCHEDQ_FLOWER_BASIC_AUTH": "ops:s3cret-flower"},
        tmp_path / "flower.log",
    )
    try:
        url = f"http://127.0.0.1:{port}/tasks"

        def answers() -> bool:
            try:
                return httpx.get(url, timeout=2).status_code > 0
            except httpx.HTTPError:
                return False

        assert wait_until(answers, timeout=45), (tmp_path / "flower.log").read_text()[-2000:]
        assert httpx.get(url, timeout=5).status_code == 401
        assert httpx.get(url, auth=("ops", "wrong"), timeout=5).status_code == 401
        assert httpx.get(url, auth=("ops", "s3cret-flower"), timeout=5).status_code == 200
    finally:
        stop(proc)
