"""Calendar-only Prometheus metrics: exports by outcome and the breaker per provider host."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# Events synced and conflicts are counted by worker.runtime.metrics_hooks from the job result.
EXPORTED = Counter(
    "schedq_calendar_events_exported", "Appointments written to CalDAV collections.", ["outcome"]
)

BREAKER_STATE = Gauge(
    "schedq_calendar_breaker_state",
    "Circuit breaker per provider host as last seen by a worker: 0 closed, 1 half-open, 2 open.",
    ["host"],
    multiprocess_mode="max",
)
BREAKER_OPENED = Counter(
    "schedq_calendar_breaker_opened", "Times a provider host's breaker opened.", ["host"]
)

# The calendar boundary (docs/security.md): refused targets, oversized answers, capped imports.
TARGET_REFUSED = Counter(
    "schedq_calendar_target_refused",
    "Provider requests refused before connecting (address, scheme) or after too many redirects.",
    ["reason"],
)
RESPONSE_TOO_LARGE = Counter(
    "schedq_calendar_response_too_large",
    "Provider answers cut off at SCHEDQ_CALENDAR_MAX_RESPONSE_BYTES (counted decompressed).",
)
BUSY_LIMITED = Counter(
    "schedq_calendar_busy_limited",
    "Syncs refused because a series or a link exceeded its instance cap within the horizon.",
)
