"""A real `celery worker` refuses to start with limits that would let Redis redeliver a held job."""

from __future__ import annotations

import os
import subprocess
import sys


def test_worker_refuses_countdown_longer_than_visibility_timeout() -> None:
    env = {
        **os.environ,
        "SCHEDQ_VISIBILITY_TIMEOUT": "100",
        "SCHEDQ_RETRY_BACKOFF_CAP": "200",
        "SCHEDQ_RECONCILE_AFTER_SECONDS": "50",
        "SCHEDQ_SOFT_TIME_LIMIT": "30",
        "SCHEDQ_TIME_LIMIT": "60",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "schedule", "-c", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "schedq: unsafe worker configuration: "
        "SCHEDQ_RETRY_BACKOFF_CAP (200s) must be below SCHEDQ_VISIBILITY_TIMEOUT (100s)"
    )


def test_worker_refuses_a_pool_that_enforces_no_time_limit() -> None:
    """-P threads (and eventlet, gevent, solo): Celery would never stop a stuck job."""
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "calendar",
         "-P", "threads", "-c", "2"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "unsafe worker configuration: the threads pool enforces no time limit" in proc.stderr
