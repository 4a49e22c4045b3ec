"""Start and stop schedq's own child processes (workers, Flower) by pid, with logs to files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(args: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # signals to the group reach the pool children too
    )


def celery_worker_args(
    queues: str, concurrency: int, name: str, pool: str = "prefork", app: str = "worker.app"
) -> list[str]:
    """``python -m celery -A <app> worker ...`` as schedq runs it (tests pass their own app)."""
    return [
        "celery",
        "-A",
        app,
        "worker",
        "-Q",
        queues,
        "-c",
        str(concurrency),
        "-P",
        pool,
        "-E",
        "-n",
        name,
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
    ]


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int | None:
    """SIGTERM (warm shutdown), then SIGKILL of the whole group if it does not finish."""
    if proc.poll() is not None:
        return proc.returncode
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return proc.poll()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(5)


def wait_for_http(url: str, timeout: float = 20.0) -> bool:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False
