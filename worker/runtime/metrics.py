"""The workers' Prometheus metrics.

Only Celery signal hooks (``worker.runtime.metrics_hooks``) write them.

Workers run prometheus-client in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` must be set
before this module is imported (``schedq.ops.metrics_dir.prepare`` does that for the start
command), each pool process then writes its own files and the node's endpoint merges them.

Label values are bounded: job kinds, outcomes, error categories and codes are fixed sets in the
code; never a job id, doctor id or anything from a payload. ``schedq_cache_requests_total``
lives with the availability cache that increments it.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# One per delivery: succeeded, rejected, dead, retry, wait (an earlier job of the same doctor is
# pending), noop (already finished: a duplicate), dropped (not a job id), error (crashed).
JOBS = Counter("schedq_jobs", "Job deliveries by kind and outcome.", ["kind", "outcome"])
DURATION = Histogram(
    "schedq_job_duration_seconds",
    "Time a worker spent on a job delivery that did work (not waits or duplicates).",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
RETRIES = Counter(
    "schedq_job_retries",
    "Deliveries that ended in a retry, by error category.",
    ["kind", "category"],
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

OUTCOMES = ("succeeded", "rejected", "dead", "retry", "wait", "noop", "dropped", "error")
# "report": calendar imports list conflicts with appointments and never resolve them.
STRATEGIES = ("reject", "flag", "force", "report")
DIRECTIONS = ("import", "export", "delete")
