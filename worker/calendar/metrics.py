"""Calendar-only Prometheus metrics: exports by outcome, and breaker openings per provider.

The breaker's state is one series, ``schedq_breaker_state{provider}``, read by the exporter from
the Redis keys every worker shares (``shared.breaker_keys``): a per-worker copy of it would say
what one process last saw, not the state. Openings are counted here, where they happen.
"""

from __future__ import annotations

from prometheus_client import Counter

# Events synced and conflicts are counted by worker.runtime.metrics_hooks from the Decision.
EXPORTED = Counter(
    "schedq_calendar_events_exported", "Appointments written to CalDAV collections.", ["outcome"]
)

BREAKER_OPENED = Counter(
    "schedq_breaker_opened",
    "Times a calendar provider's circuit breaker opened, by provider (host:port).",
    ["provider"],
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
