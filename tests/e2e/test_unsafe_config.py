"""A real `celery worker` refuses to start with limits its broker would turn into duplicates.

Both checks run on every run, whatever SCHEDQ_TEST_BROKER says: the worker exits at import,
before it connects, so the broker URL only selects which rules apply.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import AMQP_URL, REDIS_URL


def start_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "celery", "-A", "worker.app", "worker", "-Q", "schedule", "-c", "1"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_worker_refuses_countdown_longer_than_visibility_timeout() -> None:
    proc = start_worker(
        {
            "SCHEDQ_BROKER_URL": REDIS_URL,
            "SCHEDQ_VISIBILITY_TIMEOUT": "100",
            "SCHEDQ_RETRY_BACKOFF_CAP": "200",
            "SCHEDQ_RECONCILE_AFTER_SECONDS": "50",
            "SCHEDQ_SOFT_TIME_LIMIT": "30",
            "SCHEDQ_TIME_LIMIT": "60",
        }
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "schedq: unsafe worker configuration: "
        "SCHEDQ_RETRY_BACKOFF_CAP (200s) must be below SCHEDQ_VISIBILITY_TIMEOUT (100s)"
    )


def test_worker_on_rabbitmq_refuses_a_hard_limit_past_the_consumer_timeout() -> None:
    # The same Redis-unsafe backoff cap is fine here: RabbitMQ holds countdowns, not the worker.
    proc = start_worker(
        {
            "SCHEDQ_BROKER_URL": AMQP_URL,
            "SCHEDQ_VISIBILITY_TIMEOUT": "100",
            "SCHEDQ_RETRY_BACKOFF_CAP": "200",
            "SCHEDQ_AMQP_CONSUMER_TIMEOUT_SECONDS": "60",
            "SCHEDQ_SOFT_TIME_LIMIT": "60",
            "SCHEDQ_TIME_LIMIT": "90",
        }
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "schedq: unsafe worker configuration: SCHEDQ_TIME_LIMIT (90s) must be below "
        "SCHEDQ_AMQP_CONSUMER_TIMEOUT_SECONDS (60s, RabbitMQ's consumer_timeout)"
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
