"""A circuit breaker per provider host, its state shared by all workers through Redis.

Every provider interaction runs through :func:`guarded`. Only retryable provider faults count
as failures (a 401 or a bad feed says nothing about the host's health). pybreaker's
``CircuitRedisStorage`` keeps the state, counters and opening time in Redis, so every worker
process sees one state per host: after ``breaker_fail_max`` consecutive failures it opens;
while open a job retries later (retryable error with a Retry-After of the cool-down) without
calling the provider; after the cool-down one call probes (half-open) and closes it again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import pybreaker
import redis

from shared import breaker_keys
from shared.calendar_settings import get_calendar_settings
from shared.errors import SchedqError, error
from shared.settings import get_settings
from worker.calendar import metrics as calendar_metrics
from worker.calendar.providers import map_provider_error

log = logging.getLogger("schedq.calendar")
T = TypeVar("T")

_breakers: dict[str, pybreaker.CircuitBreaker] = {}
_lock = threading.Lock()


def _counts_as_failure(exc: BaseException) -> bool:
    return isinstance(exc, SchedqError) and exc.retryable


class _Metrics(pybreaker.CircuitBreakerListener):
    """State changes as metrics (a hook, not inside the call path)."""

    def state_change(self, cb: pybreaker.CircuitBreaker, old: object, new: object) -> None:
        # The state itself is read from Redis by the exporter (schedq_breaker_state).
        if getattr(new, "name", str(new)) == pybreaker.STATE_OPEN:
            calendar_metrics.BREAKER_OPENED.labels(provider=cb.name).inc()
            log.warning("calendar breaker opened for a provider host")


def _storage(host: str) -> pybreaker.CircuitBreakerStorage:
    url = get_settings().state_redis_url
    if url is None:
        # No Redis configured (an AMQP broker without SCHEDQ_REDIS_URL): each process keeps its
        # own breaker state.
        return pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
    client = redis.Redis.from_url(url, socket_timeout=2)
    # On a Redis error pybreaker falls back to "closed": providers are still called.
    return pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, client, namespace=breaker_keys.namespace(host)
    )


def breaker_for(host: str) -> pybreaker.CircuitBreaker:
    settings = get_calendar_settings()
    with _lock:
        breaker = _breakers.get(host)
        if breaker is None:
            breaker = pybreaker.CircuitBreaker(
                fail_max=settings.breaker_fail_max,
                reset_timeout=settings.breaker_reset_seconds,
                state_storage=_storage(host),
                listeners=[_Metrics()],
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
    return error(
        "CALENDAR_PROVIDER_CIRCUIT_OPEN",
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
