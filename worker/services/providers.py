"""Calls to calendar providers: errors mapped to the error model, a circuit breaker per host.

Every provider interaction runs through :func:`guarded`. Transient failures (timeouts, refused
connections, 5xx, 429) are retryable and count towards the host's breaker; 401/403 and other
4xx are permanent and do not. The breaker (pybreaker) keeps its state in Redis, so all workers
see one state per host: after ``breaker_fail_max`` failures it opens, and while open a job
retries later without calling the provider; after the cool-down one call probes (half-open).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import pybreaker
import redis
from caldav.lib import error as dav_error

from shared.calendar_settings import get_calendar_settings
from shared.errors import Category, SchedqError, Severity
from shared.settings import get_settings

log = logging.getLogger("schedq.calendar")
T = TypeVar("T")
REFUSED = "The calendar provider refused the credentials; fix the link's user or secret."


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(int(value.strip())))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def status_error(status: int, retry_after: str | None = None) -> SchedqError:
    """The error for a provider's HTTP status (never with the host name in the message)."""
    if status == 401:
        return SchedqError("CALENDAR_AUTH_REFUSED", REFUSED, Category.AUTHENTICATION, Severity.HIGH)
    if status == 403:
        return SchedqError("CALENDAR_FORBIDDEN", REFUSED, Category.AUTHORIZATION, Severity.HIGH)
    if status in (429, 503) or status >= 500:
        code = "CALENDAR_RATE_LIMITED" if status == 429 else "CALENDAR_PROVIDER_ERROR"
        return SchedqError(
            code,
            "The calendar provider is unavailable or busy; the sync will be retried.",
            Category.EXTERNAL_SERVICE,
            Severity.MEDIUM,
            retryable=True,
            details={"status": status},
            retry_after=retry_after_seconds(retry_after),
        )
    if status in (404, 410):
        return SchedqError(
            "CALENDAR_NOT_FOUND",
            "The linked calendar does not exist at the provider.",
            Category.EXTERNAL_SERVICE,
            Severity.MEDIUM,
            details={"status": status},
        )
    return SchedqError(
        "CALENDAR_REQUEST_REFUSED",
        "The calendar provider refused the request.",
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        details={"status": status},
    )


def _network(code: str, message: str, category: Category) -> SchedqError:
    return SchedqError(code, message, category, Severity.MEDIUM, retryable=True)


def map_provider_error(exc: BaseException) -> SchedqError:
    """httpx, caldav and transport exceptions -> SchedqError (one place for provider faults)."""
    if isinstance(exc, SchedqError):
        return exc
    if isinstance(exc, httpx.HTTPStatusError):
        return status_error(exc.response.status_code, exc.response.headers.get("Retry-After"))
    if isinstance(exc, dav_error.RateLimitError):
        err = status_error(exc.status or 429)
        err.retry_after = exc.retry_after_seconds
        return err
    if isinstance(exc, dav_error.AuthorizationError):
        return status_error(exc.status or 401)
    if isinstance(exc, dav_error.DAVError) and exc.status:
        return status_error(int(exc.status))
    timeout_names = ("Timeout", "ReadTimeout", "ConnectTimeout", "TimeoutError")
    if isinstance(exc, httpx.TimeoutException | TimeoutError) or type(exc).__name__ in (
        timeout_names
    ):
        return _network(
            "CALENDAR_TIMEOUT", "The calendar provider did not answer in time.", Category.TIMEOUT
        )
    if isinstance(exc, httpx.TransportError | ConnectionError | OSError):
        return _network(
            "CALENDAR_UNREACHABLE", "The calendar provider could not be reached.", Category.NETWORK
        )
    if isinstance(exc, dav_error.DAVError):
        return SchedqError(
            "CALENDAR_PROVIDER_ERROR",
            "The calendar provider answered with an error.",
            Category.EXTERNAL_SERVICE,
            Severity.MEDIUM,
            retryable=True,
        )
    raise exc


_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_lock = threading.Lock()


def _counts_as_failure(exc: BaseException) -> bool:
    return isinstance(exc, SchedqError) and exc.retryable


def breaker_for(host: str) -> pybreaker.CircuitBreaker:
    settings = get_calendar_settings()
    with _lock:
        breaker = _breakers.get(host)
        if breaker is None:
            client = redis.Redis.from_url(get_settings().broker_url, socket_timeout=2)
            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED, client, namespace=f"schedq:breaker:{host}"
            )
            breaker = pybreaker.CircuitBreaker(
                fail_max=settings.breaker_fail_max,
                reset_timeout=settings.breaker_reset_seconds,
                state_storage=storage,
                # Permanent answers (401, 404, a bad feed) say nothing about the host's health.
                exclude=[lambda e: not _counts_as_failure(e)],
                name=host,
            )
            _breakers[host] = breaker
        return breaker


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or ''}:{parts.port or ''}"


def breaker_open(host: str) -> SchedqError:
    return SchedqError(
        "CALENDAR_PROVIDER_CIRCUIT_OPEN",
        "The calendar provider failed repeatedly; the sync waits before trying again.",
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        retryable=True,
        retry_after=float(get_calendar_settings().breaker_reset_seconds),
        details={"breaker": "open"},
    )


def guarded(url: str, call: Callable[[], T]) -> T:
    """Run one provider interaction under the host's breaker, with errors mapped."""
    host = host_of(url)
    breaker = breaker_for(host)

    def mapped() -> T:
        try:
            return call()
        except Exception as exc:
            raise map_provider_error(exc) from None

    try:
        return breaker.call(mapped)
    except pybreaker.CircuitBreakerError:
        log.warning("calendar breaker open for a provider host; not calling it")
        raise breaker_open(host) from None
