"""Prometheus metrics as Celery signal hooks: services and tasks never touch a metric.

The task adapter leaves the executor's ``Decision`` on ``task.request.schedq_decision``; the hooks
read the outcome from its typed fields (action, error, conflicts, calendar events, latency), so
nothing is queried again and nothing is guessed from a job's result or an error's code. A
delivery is counted in ``schedq_deliveries_total``; a job once, at its final status, in
``schedq_jobs_total``; the periodic tasks (reconciler, calendar tick) in
``schedq_periodic_runs_total``, never as job deliveries. The node's HTTP endpoint runs in the
worker's main process (which runs no jobs) and merges the pool processes' multiprocess files.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery.signals import (
    task_postrun,
    task_prerun,
    task_received,
    worker_init,
    worker_process_shutdown,
)
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from shared.kinds import KINDS
from shared.settings import get_settings
from worker.beat_schedule import CALENDAR_TICK_TASK, RECONCILE_TASK
from worker.pipeline.executor import Decision
from worker.runtime import metrics

log = logging.getLogger("schedq.metrics")

# Deliveries that did real work; waits, duplicates and dropped messages would blur the latency.
_TIMED = frozenset({"succeeded", "rejected", "dead", "retry", "error"})
_started: dict[str, float] = {}
# Periodic tasks by their label in schedq_periodic_runs_total.
PERIODIC = {RECONCILE_TASK: "reconcile", CALENDAR_TICK_TASK: "calendar_tick"}


def kind_of(task_name: str | None, decision: Decision | None = None) -> str:
    """A bounded label: a known kind, else "unknown" (never a free-form string)."""
    name = (decision.kind if decision and decision.kind else None) or (task_name or "")
    name = name.rsplit(".", 1)[-1]
    return name if name in KINDS else "unknown"


def outcome_of(decision: Decision | None, state: str | None) -> str:
    if decision is None:
        return "error" if state == "FAILURE" else "dropped"
    return decision.action


def _conflicts(kind: str, decision: Decision) -> None:
    settled = decision.conflicts
    if settled is not None and settled.count > 0:
        metrics.CONFLICTS.labels(kind=kind, strategy=settled.strategy).inc(settled.count)


def _calendar(decision: Decision) -> None:
    events = decision.events
    if events is None:
        return
    for direction, n in (
        ("import", events.imported),
        ("export", events.exported),
        ("delete", events.deleted),
    ):
        if n > 0:
            metrics.CALENDAR_EVENTS.labels(direction=direction).inc(n)


def record(kind: str, decision: Decision | None, state: str | None, seconds: float | None) -> str:
    """Count one finished delivery; returns the outcome label used."""
    outcome = outcome_of(decision, state)
    metrics.DELIVERIES.labels(kind=kind, outcome=outcome).inc()
    if seconds is not None and outcome in _TIMED:
        metrics.DURATION.labels(kind=kind).observe(seconds)
    if decision is None:
        return outcome
    err = decision.error
    if outcome in metrics.FINAL_OUTCOMES:
        # The executor decides a final status once per job (under the row lock), so this counts
        # each job once; duplicates come back as "noop".
        metrics.JOBS.labels(kind=kind, outcome=outcome).inc()
        if decision.latency is not None:
            metrics.LATENCY.labels(kind=kind).observe(decision.latency)
    if outcome == "wait":
        metrics.WAITS.labels(kind=kind).inc()
    if outcome == "retry" and err is not None:
        metrics.RETRIES.labels(kind=kind, category=str(err.category)).inc()
    if outcome == "dead" and err is not None:
        metrics.DEAD_LETTERS.labels(kind=kind, code=err.code).inc()
    if outcome == "rejected" and err is not None and str(err.category) == "VALIDATION":
        codes = [str(v.get("code")) for v in err.details.get("violations", []) if v.get("code")]
        for code in codes or [err.code]:
            metrics.VALIDATION_FAILURES.labels(code=code).inc()
    _conflicts(kind, decision)
    _calendar(decision)
    return outcome


def _registered() -> frozenset[str]:
    return frozenset(k.task_name for k in KINDS.values()) | frozenset(PERIODIC)


def _task_label(name: str) -> str:
    """A registered task's name, else "unknown": a forged message cannot add label values."""
    return name if name in _registered() else "unknown"


def _celery_state(name: str, task: Any, state: str | None) -> None:
    hostname = str(getattr(getattr(task, "request", None), "hostname", None) or "unknown")
    label = _task_label(name)
    if state == "SUCCESS":
        metrics.CELERY_SUCCEEDED.labels(name=label, hostname=hostname).inc()
    elif state == "RETRY":
        metrics.CELERY_RETRIED.labels(name=label, hostname=hostname).inc()
    elif state == "FAILURE":
        exc = getattr(getattr(task, "request", None), "schedq_decision", None)
        exception = "JobFailed" if exc is not None else "error"
        metrics.CELERY_FAILED.labels(name=label, hostname=hostname, exception=exception).inc()


@task_received.connect
def _received(request: Any = None, **_: Any) -> None:
    name = str(getattr(request, "name", None) or "")
    hostname = str(getattr(request, "hostname", None) or "unknown")
    metrics.CELERY_RECEIVED.labels(name=_task_label(name), hostname=hostname).inc()


@task_prerun.connect
def _started_at(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect
def _finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    start = _started.pop(task_id or "", None)
    seconds = time.perf_counter() - start if start is not None else None
    name = str(getattr(task, "name", None) or "")
    _celery_state(name, task, state)
    if name in PERIODIC:
        outcome = "succeeded" if state == "SUCCESS" else "failed"
        metrics.PERIODIC.labels(task=PERIODIC[name], outcome=outcome).inc()
        return
    decision = getattr(getattr(task, "request", None), "schedq_decision", None)
    record(kind_of(name, decision), decision, state, seconds)


def registry() -> CollectorRegistry:
    """Merged view of every process of this node (multiprocess), else this process only."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)
    return merged


@worker_init.connect
def _serve_metrics(sender: Any = None, **_: Any) -> None:
    metrics.initialise(tuple(KINDS), tuple(PERIODIC.values()))
    hostname = getattr(sender, "hostname", None)
    if hostname:
        metrics.initialise_celery(tuple(sorted(_registered())), str(hostname))
    settings = get_settings()
    if not settings.metrics_port:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        log.warning("PROMETHEUS_MULTIPROC_DIR unset: only this process's metrics are served")
    start_http_server(settings.metrics_port, addr=settings.metrics_address, registry=registry())
    log.info("metrics on http://%s:%s/metrics", settings.metrics_address, settings.metrics_port)


@worker_process_shutdown.connect
def _mark_dead(**_: Any) -> None:
    # Live gauges of a replaced pool child must not linger; counters keep their totals.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())
