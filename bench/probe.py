"""Latency probe: when a task finishes successfully, push ``task_id time`` to a Redis list.

Connected only when ``SCHEDQ_BENCH_PROBE=1`` (the latency figure), to both the schedq worker and
the bare-Celery baseline, so both pay the same small cost. ``task_postrun`` fires after the task
returned, i.e. after schedq's job transaction committed: submit-to-committed, measured the same
way on both sides.
"""

from __future__ import annotations

import os
import time
from typing import Any

import redis
from celery import Celery
from celery.signals import task_postrun

DONE_KEY = "bench:done"
_client: tuple[int, redis.Redis] | None = None


def _redis() -> redis.Redis:
    global _client
    # One client per pool child (a forked child must not share its parent's socket).
    if _client is None or _client[0] != os.getpid():
        _client = (os.getpid(), redis.Redis.from_url(os.environ["SCHEDQ_BROKER_URL"]))
    return _client[1]


def _record(task_id: str | None = None, state: str | None = None, **_: Any) -> None:
    if state == "SUCCESS" and task_id:
        _redis().rpush(DONE_KEY, f"{task_id} {time.time():.6f}")


def install(app: Celery) -> Celery:
    if os.environ.get("SCHEDQ_BENCH_PROBE") == "1":
        task_postrun.connect(_record, weak=False)
    return app
