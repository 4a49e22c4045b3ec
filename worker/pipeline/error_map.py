"""The one table that turns any exception into a schedq error (category, severity, retryable).

Domain code raises ``SchedqError`` already; everything else (database driver, Redis, HTTP
providers, time limits, the OS) is classified here, first matching row wins. Messages are
written for people: they never include the exception text, SQL, stack traces or host names
(the original exception is logged by the executor, not stored on the job).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from shared.errors import Category, SchedqError, Severity, error
from shared.provider_errors import status_error

if TYPE_CHECKING:
    import httpx

# PostgreSQL SQLSTATEs with a domain meaning (permanent: retrying cannot change the answer).
_SQLSTATE = {
    "23P01": ("SCHEDULE_CONFLICT", "The requested time overlaps an existing booking."),
    "23505": ("DUPLICATE", "This record already exists."),
    "23503": ("REFERENCE_MISSING", "The job refers to something that does not exist."),
    "23514": ("CONSTRAINT_VIOLATED", "The change breaks a scheduling rule."),
    "22001": ("VALUE_TOO_LONG", "A value is longer than the schedule can store."),
}
# Serialization failure, deadlock, lock timeout, admin shutdown, crash, cannot connect now,
# connection failures, too many connections: the same job can succeed a moment later.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08000", "08003"}
_RETRYABLE_SQLSTATES |= {"08006", "08001", "08004", "53300", "53400"}


def _err(
    code: str, message: str, category: Category, severity: Severity, retryable: bool = False
) -> SchedqError:
    return SchedqError(code, message, category, severity, retryable=retryable)


def _database(exc: BaseException) -> SchedqError:
    assert isinstance(exc, sa_errors.DBAPIError)
    state = getattr(exc.orig, "sqlstate", None)
    if state in _SQLSTATE:
        code, message = _SQLSTATE[state]
        return _err(code, message, Category.BUSINESS_LOGIC, Severity.LOW)
    if (
        state in _RETRYABLE_SQLSTATES
        or isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError)
        or exc.connection_invalidated
    ):
        return _err(
            "DATABASE_UNAVAILABLE",
            "The schedule database is briefly unavailable; the job will be retried.",
            Category.DATABASE,
            Severity.HIGH,
            retryable=True,
        )
    return _err(
        "DATABASE_ERROR",
        "The schedule database refused the change.",
        Category.DATABASE,
        Severity.HIGH,
    )


def _http_status(exc: httpx.HTTPStatusError) -> SchedqError:
    # The same table as the calendar code: one HTTP fault, one code, wherever it is met.
    return status_error(exc.response.status_code, exc.response.headers.get("Retry-After"))


def _fixed(
    code: str, message: str, category: Category, severity: Severity, retryable: bool
) -> Callable[[BaseException], SchedqError]:
    return lambda _exc: _err(code, message, category, severity, retryable)


_RETRY_LATER = "; the job will be retried."

# A type is named as "module.Name" when its module is only imported by some job kinds (httpx:
# calendar jobs, deferred to keep every worker process small). The row matches only once that
# module is loaded: before that, no exception of the type can exist.
Types = type[BaseException] | tuple[type[BaseException], ...] | str

# THE table. Order matters: the first row whose type matches wins (subclasses before bases).
RULES: list[tuple[Types, Callable[..., SchedqError]]]
RULES = [
    (sa_errors.DBAPIError, _database),
    (
        sa_errors.TimeoutError,  # connection pool exhausted
        _fixed("DATABASE_BUSY", "The schedule database is busy" + _RETRY_LATER,
               Category.DATABASE, Severity.MEDIUM, True),
    ),
    (
        (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError),
        _fixed("CACHE_UNAVAILABLE", "A shared service is briefly unavailable" + _RETRY_LATER,
               Category.NETWORK, Severity.MEDIUM, True),
    ),
    (
        redis_errors.RedisError,
        _fixed("CACHE_ERROR", "A shared service refused the request.",
               Category.SYSTEM, Severity.HIGH, False),
    ),
    ("httpx.HTTPStatusError", _http_status),
    ("httpx.TimeoutException", lambda _exc: error("CALENDAR_TIMEOUT")),
    ("httpx.TooManyRedirects",
     lambda _exc: error("CALENDAR_TOO_MANY_REDIRECTS", limit="the allowed number of")),
    ("httpx.DecodingError", lambda _exc: error("CALENDAR_BAD_RESPONSE")),
    # connect errors, resets, protocol errors
    ("httpx.TransportError", lambda _exc: error("CALENDAR_UNREACHABLE")),
    (
        (SoftTimeLimitExceeded, TimeLimitExceeded, TimeoutError),
        _fixed("JOB_TIMEOUT", "The job took too long" + _RETRY_LATER,
               Category.TIMEOUT, Severity.MEDIUM, True),
    ),
    (
        (ConnectionError, OSError),
        _fixed("NETWORK_ERROR", "A network call failed" + _RETRY_LATER,
               Category.NETWORK, Severity.MEDIUM, True),
    ),
]  # fmt: skip


def _resolve(types: Types) -> type[BaseException] | tuple[type[BaseException], ...]:
    if not isinstance(types, str):
        return types
    module, _, name = types.rpartition(".")
    loaded = sys.modules.get(module)
    return getattr(loaded, name) if loaded is not None else ()


def classify(exc: BaseException) -> SchedqError:
    if isinstance(exc, SchedqError):
        return exc
    for types, make in RULES:
        if isinstance(exc, _resolve(types)):
            return make(exc)
    return SchedqError(
        "UNEXPECTED_ERROR",
        "The job failed unexpectedly and was set aside for an operator.",
        Category.SYSTEM,
        Severity.CRITICAL,
        details={"exception": type(exc).__name__},
    )
