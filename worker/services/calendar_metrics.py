"""Prometheus counters for calendar sync (names ``schedq_calendar_*``)."""

from __future__ import annotations

from prometheus_client import Counter

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


def record_sync(source: str, changed: int, conflicts: int) -> None:
    if changed:
        EVENTS_SYNCED.labels(source).inc(changed)
        CONFLICTS.labels(source).inc(conflicts)
