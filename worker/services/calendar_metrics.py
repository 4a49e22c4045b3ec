"""Prometheus counters for calendar sync (names ``schedq_calendar_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

EVENTS_SYNCED = Counter(
    "schedq_calendar_events_synced",
    "Busy-time rows inserted, updated or deleted by calendar imports.",
    ["source"],
)
CONFLICTS = Counter(
    "schedq_calendar_conflicts",
    "Imported busy time overlapping booked appointments, as found by syncs that changed data.",
    ["source"],
)
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


def record_sync(source: str, changed: int, conflicts: int) -> None:
    if changed:
        EVENTS_SYNCED.labels(source).inc(changed)
        CONFLICTS.labels(source).inc(conflicts)
