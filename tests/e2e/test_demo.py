"""`schedq demo` on the embedded default, with no network but loopback (a fresh machine's view)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest


def _isolated(cmd: list[str]) -> list[str]:
    """Run inside a new network namespace with only loopback up.

    Without one the test would pass while proving nothing about a machine with no network, so
    a machine that cannot create one fails the test and says why (never a silent fallback).
    """
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"no network namespace for the demo: {', '.join(missing)} not installed")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(
            "no network namespace for the demo: `unshare -n` failed "
            f"({probe.stderr.strip()[:200] or probe.returncode}); run as root or with user "
            "namespaces enabled"
        )
    return ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *cmd]


RUN_SERVER_SETTINGS = {
    "SCHEDQ_DATABASE_URL", "SCHEDQ_BROKER_URL", "SCHEDQ_REDIS_URL", "SCHEDQ_SCHEDULE_QUEUE",
    "SCHEDQ_CALENDAR_QUEUE", "SCHEDQ_DEAD_LETTER_QUEUE",
}  # fmt: skip


def test_demo_runs_on_embedded_servers_and_stops_them(tmp_path: Path) -> None:
    # The demo brings its own servers: none of the run's (nor its RabbitMQ queue names).
    env = {k: v for k, v in os.environ.items() if k not in RUN_SERVER_SETTINGS}
    data = tmp_path / "demo"
    cmd = [sys.executable, "-m", "schedq.cli.main", "demo", "--data-dir", str(data)]
    proc = subprocess.run(_isolated(cmd), env=env, capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "starting embedded PostgreSQL and Redis" in out
    summary = re.search(
        r"summary: submitted=(\d+) succeeded=(\d+) rejected=(\d+) dead=(\d+) unfinished=(\d+)", out
    )
    assert summary is not None, out[-3000:]
    submitted, succeeded, rejected, dead, unfinished = map(int, summary.groups())
    assert (submitted, succeeded, rejected, dead, unfinished) == (12, 7, 5, 0, 0)
    for code in (
        "SHIFT_END_NOT_AFTER_START",
        "SHIFT_OVERLAP",
        "TIME_ZONE_UNKNOWN",
        "TIME_FORMAT",
        "OUTSIDE_BUSINESS_HOURS",
    ):
        assert code in out
    assert re.search(r"Flower: http://127\.0\.0\.1:\d+/", out)
    # Part of the workload went through the HTTP gateway, whose addresses are printed.
    assert re.search(r"API: http://127\.0\.0\.1:\d+/v1/jobs", out)
    assert re.search(r"OpenAPI: http://127\.0\.0\.1:\d+/openapi\.json", out)
    assert out.count("valid weekly plan (over HTTP)") == 6
    # Everything the demo started is stopped again.
    leftovers = [
        p
        for p in psutil.process_iter(["cmdline"])
        if str(data) in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []


def test_demo_uses_configured_servers_when_both_urls_are_set(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    cmd = [sys.executable, "-m", "schedq.cli.main", "demo", "--data-dir", str(tmp_path / "d")]
    proc = subprocess.run(cmd, env=dict(os.environ), capture_output=True, text=True, timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "using the servers named by SCHEDQ_DATABASE_URL and SCHEDQ_BROKER_URL" in out
    assert "starting embedded" not in out
    assert "unfinished=0" in out
    assert not (tmp_path / "d" / "pg").exists()
