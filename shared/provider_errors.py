"""HTTP answers of calendar providers as errors: one table for every path.

Both the calendar code (``worker.calendar.providers``) and the task's last-resort map
(``worker.pipeline.error_map``) turn a status into a code here, and Retry-After is parsed here
only, so the same fault gets the same code wherever it is met. Messages never name the host.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from shared.errors import SchedqError, error

# Retry-After is honoured up to this; a provider cannot park a job for a day.
MAX_RETRY_AFTER = 3600.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), MAX_RETRY_AFTER)


def status_error(status: int, retry_after: str | None = None) -> SchedqError:
    """The error for a provider's HTTP status."""
    details = {"status": status}
    if status == 401:
        return error("CALENDAR_AUTH_REFUSED", details=details)
    if status == 403:
        return error("CALENDAR_FORBIDDEN", details=details)
    if status == 429:
        wait = retry_after_seconds(retry_after)
        return error("CALENDAR_RATE_LIMITED", details=details, retry_after=wait)
    if status >= 500:
        wait = retry_after_seconds(retry_after)
        return error("CALENDAR_PROVIDER_ERROR", details=details, retry_after=wait)
    if status in (404, 410):
        return error("CALENDAR_NOT_FOUND", details=details)
    return error("CALENDAR_REQUEST_REFUSED", details=details)
