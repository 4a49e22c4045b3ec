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

from shared.errors import SchedqError, error
from shared.provider_errors import status_error

if TYPE_CHECKING:
    import httpx

# PostgreSQL SQLSTATEs with a domain meaning (permanent: retrying cannot change the answer).
_SQLSTATE = {
    "23P01": "SCHEDULE_CONFLICT",
    "23505": "DUPLICATE",
    "23503": "REFERENCE_MISSING",
    "23514": "CONSTRAINT_VIOLATED",
    "22001": "VALUE_TOO_LONG",
}
# Serialization failure, deadlock, lock timeout, admin shutdown, crash, cannot connect now,
# connection failures, too many connections: the same job can succeed a moment later.
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08000", "08003"}
_RETRYABLE_SQLSTATES |= {"08006", "08001", "08004", "53300", "53400"}


def _database(exc: BaseException) -> SchedqError:
    assert isinstance(exc, sa_errors.DBAPIError)
    state = getattr(exc.orig, "sqlstate", None)
    if state in _SQLSTATE:
        return error(_SQLSTATE[state])
    if (
        state in _RETRYABLE_SQLSTATES
        or isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError)
        or exc.connection_invalidated
    ):
        return error("DATABASE_UNAVAILABLE")
    return error("DATABASE_ERROR")


def _http_status(exc: httpx.HTTPStatusError) -> SchedqError:
    # The same table as the calendar code: one HTTP fault, one code, wherever it is met.
    return status_error(exc.response.status_code, exc.response.headers.get("Retry-After"))


def _coded(code: str) -> Callable[[BaseException], SchedqError]:
    """A row whose error is the catalogue's ``code`` whatever the exception says."""
    return lambda _exc: error(code)


# A type is named as "module.Name" when its module is only imported by some job kinds (httpx:
# calendar jobs, deferred to keep every worker process small). The row matches only once that
# module is loaded: before that, no exception of the type can exist.
Types = type[BaseException] | tuple[type[BaseException], ...] | str

# THE table. Order matters: the first row whose type matches wins (subclasses before bases).
RULES: list[tuple[Types, Callable[..., SchedqError]]]
RULES = [
    (sa_errors.DBAPIError, _database),
    (sa_errors.TimeoutError, _coded("DATABASE_BUSY")),  # connection pool exhausted
    (
        (redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.BusyLoadingError),
        _coded("CACHE_UNAVAILABLE"),
    ),
    (redis_errors.RedisError, _coded("CACHE_ERROR")),
    ("httpx.HTTPStatusError", _http_status),
    ("httpx.TimeoutException", _coded("CALENDAR_TIMEOUT")),
    ("httpx.TooManyRedirects",
     lambda _exc: error("CALENDAR_TOO_MANY_REDIRECTS", limit="the allowed number of")),
    ("httpx.DecodingError", _coded("CALENDAR_BAD_RESPONSE")),
    # connect errors, resets, protocol errors
    ("httpx.TransportError", _coded("CALENDAR_UNREACHABLE")),
    ((SoftTimeLimitExceeded, TimeLimitExceeded, TimeoutError), _coded("JOB_TIMEOUT")),
    ((ConnectionError, OSError), _coded("NETWORK_ERROR")),
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
    return error("UNEXPECTED_ERROR", details={"exception": type(exc).__name__})
