"""The workers' Prometheus metrics.

Only Celery signal hooks (``worker.runtime.metrics_hooks``) write them.

Workers run prometheus-client in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` must be set
before this module is imported (``schedq.ops.metrics_dir.prepare`` does that for the start
command), each pool process then writes its own files and the node's endpoint merges them.

Label values are bounded: job kinds, outcomes, error categories and codes are fixed sets in the
code; never a job id, doctor id or anything from a payload. Series that alerts read are created
at zero when the worker starts (:func:`initialise`), so the first event is an increase.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from shared.errors import CATALOGUE, Category

# One per job, when the ledger records its final status (a job is counted once, whatever
# number of deliveries, retries and waits it took).
FINAL_OUTCOMES = ("succeeded", "rejected", "dead")
JOBS = Counter("schedq_jobs", "Jobs finished, by kind and final status.", ["kind", "outcome"])
# One per delivery: a final outcome, retry, wait (an earlier job of the same doctor is
# pending), noop (already finished: a duplicate), dropped (not a job id), error (crashed).
DELIVERY_OUTCOMES = (*FINAL_OUTCOMES, "retry", "wait", "noop", "dropped", "error")
DELIVERIES = Counter(
    "schedq_deliveries", "Job messages delivered to a worker, by outcome.", ["kind", "outcome"]
)
DURATION = Histogram(
    "schedq_job_duration_seconds",
    "Time a worker spent on a job delivery that did work (not waits or duplicates).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
LATENCY = Histogram(
    "schedq_job_latency_seconds",
    "Submit to commit of a job's final status (what a producer waits), by kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
RETRIES = Counter(
    "schedq_job_retries",
    "Deliveries that ended in a retry, by error category.",
    ["kind", "category"],
)
WAITS = Counter(
    "schedq_job_waits",
    "Deliveries put back because an earlier job of the same doctor is pending (not retries).",
    ["kind"],
)
DEAD_LETTERS = Counter(
    "schedq_dead_letters", "Jobs set aside for an operator, by error code.", ["kind", "code"]
)
VALIDATION_FAILURES = Counter(
    "schedq_validation_failures", "Broken rules in rejected jobs, by rule code.", ["code"]
)
CONFLICTS = Counter(
    "schedq_conflicts",
    "Booked appointments a job collided with, by the strategy that resolved them.",
    ["kind", "strategy"],
)
CALENDAR_EVENTS = Counter(
    "schedq_calendar_events_synced",
    "Calendar events written by sync jobs, by direction (import, export, delete).",
    ["direction"],
)
PERIODIC = Counter(
    "schedq_periodic_runs",
    "Runs of the periodic tasks (reconcile, calendar tick), by outcome (succeeded, failed).",
    ["task", "outcome"],
)

# celery-exporter's task counters (same names and labels), for dashboards built on it. Counted
# from the same task states Flower shows: a wait or a duplicate delivery sends no task event
# and is not counted here either.
CELERY_RECEIVED = Counter(
    "celery_task_received", "Task messages a worker received.", ["name", "hostname"]
)
CELERY_SUCCEEDED = Counter(
    "celery_task_succeeded", "Tasks that ended SUCCESS.", ["name", "hostname"]
)
CELERY_FAILED = Counter(
    "celery_task_failed",
    "Tasks that ended FAILURE, by exception class (JobFailed: rejected or dead job).",
    ["name", "hostname", "exception"],
)
CELERY_RETRIED = Counter("celery_task_retried", "Tasks that ended RETRY.", ["name", "hostname"])

# "report": calendar imports list conflicts with appointments and never resolve them.
STRATEGIES = ("reject", "flag", "force", "report")
DIRECTIONS = ("import", "export", "delete")
# Codes a job can be dead-lettered with: exhausted retries and the non-retryable system faults
# (a crash loop, an unexpected error).
DEAD_CODES = tuple(
    sorted(
        {"RETRIES_EXHAUSTED"}
        | {
            code
            for code, entry in CATALOGUE.items()
            if entry.category is Category.SYSTEM and not entry.retryable
        }
    )
)
# Categories a retry can carry: those of the retryable codes.
RETRY_CATEGORIES = tuple(
    sorted({str(e.category) for e in CATALOGUE.values() if e.retryable and e.category})
)


def initialise_celery(task_names: tuple[str, ...], hostname: str) -> None:
    for name in task_names:
        for counter in (CELERY_RECEIVED, CELERY_SUCCEEDED, CELERY_RETRIED):
            counter.labels(name=name, hostname=hostname)
        CELERY_FAILED.labels(name=name, hostname=hostname, exception="JobFailed")


def initialise(kinds: tuple[str, ...], periodic: tuple[str, ...]) -> None:
    """Create every known label set at zero: ``increase()`` sees the first event, and ratios
    read 0 rather than NaN before it."""
    for kind in kinds:
        for outcome in FINAL_OUTCOMES:
            JOBS.labels(kind=kind, outcome=outcome)
        for outcome in DELIVERY_OUTCOMES:
            DELIVERIES.labels(kind=kind, outcome=outcome)
        for code in DEAD_CODES:
            DEAD_LETTERS.labels(kind=kind, code=code)
        for category in RETRY_CATEGORIES:
            RETRIES.labels(kind=kind, category=category)
        WAITS.labels(kind=kind)
        for strategy in STRATEGIES:
            CONFLICTS.labels(kind=kind, strategy=strategy)
    for direction in DIRECTIONS:
        CALENDAR_EVENTS.labels(direction=direction)
    for task in periodic:
        for outcome in ("succeeded", "failed"):
            PERIODIC.labels(task=task, outcome=outcome)
