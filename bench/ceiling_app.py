"""Celery as shipped, plus schedq's hardening one setting at a time: the ceiling figure's app.

``BENCH_CEILING`` (comma-separated) chooses what is added to Celery's defaults:

- ``acks_late``: prefetch 1 and late acknowledgement (re-queued if the worker dies);
- ``limits``: schedq's soft and hard time limits;
- ``batched_events``: schedq's task-event flush (``worker.runtime.task_events``).

Task events and the log level are worker options (``-E``, ``--loglevel``), chosen by the node.
With ``BENCH_CEILING`` empty this is Celery's default configuration except the broker URL:
prefork, prefetch multiplier 4, early acks, no time limits, results ignored (``ignore_result``
on the task, as schedq and the hardened baseline do).
"""

from __future__ import annotations

import os

from celery import Celery

from bench.baseline import NOOP
from shared.settings import get_settings
from worker.runtime.task_events import BatchedTaskEvents

FEATURES = frozenset(f for f in os.environ.get("BENCH_CEILING", "").split(",") if f)
KNOWN = frozenset({"acks_late", "limits", "batched_events"})
if FEATURES - KNOWN:
    raise SystemExit(f"BENCH_CEILING: unknown {sorted(FEATURES - KNOWN)}; known {sorted(KNOWN)}")

settings = get_settings()
app = Celery("bench-ceiling", broker=settings.broker_url)
if "acks_late" in FEATURES:
    app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1)
if "limits" in FEATURES:
    app.conf.update(
        task_soft_time_limit=settings.soft_time_limit, task_time_limit=settings.time_limit
    )
if "batched_events" in FEATURES:
    app.steps["consumer"].add(BatchedTaskEvents)


@app.task(name=NOOP, ignore_result=True)
def noop(job_id: str) -> None:
    return None
