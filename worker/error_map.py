"""The one table that turns any exception into a schedq error (category, severity, retryable).

Domain code raises ``SchedqError`` already; everything else (drivers, network, time limits) is
classified here. Messages are written for people: no SQL, no stack traces, no host names.
"""

from __future__ import annotations

from celery.exceptions import SoftTimeLimitExceeded
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from shared.errors import Category, SchedqError, Severity

# PostgreSQL SQLSTATEs with a domain meaning.
_SQLSTATE = {
    "23P01": ("SCHEDULE_CONFLICT", "The requested time overlaps an existing booking."),
    "23505": ("DUPLICATE", "This record already exists."),
    "23503": ("REFERENCE_MISSING", "The job refers to something that does not exist."),
    "23514": ("CONSTRAINT_VIOLATED", "The change breaks a scheduling rule."),
    "40001": ("SERIALIZATION_FAILURE", "The schedule was busy; the job will be retried."),
    "40P01": ("DEADLOCK", "The schedule was busy; the job will be retried."),
}
_RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "08006", "08001"}


def _sqlstate(exc: sa_errors.DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None)


def classify(exc: BaseException) -> SchedqError:
    if isinstance(exc, SchedqError):
        return exc
    if isinstance(exc, sa_errors.DBAPIError):
        state = _sqlstate(exc)
        if state in _SQLSTATE and state not in _RETRYABLE_SQLSTATES:
            code, message = _SQLSTATE[state]
            return SchedqError(code, message, Category.BUSINESS_LOGIC, Severity.LOW)
        if (
            state in _RETRYABLE_SQLSTATES
            or isinstance(exc, sa_errors.OperationalError | sa_errors.InterfaceError)
            or exc.connection_invalidated
        ):
            return SchedqError(
                "DATABASE_UNAVAILABLE",
                "The schedule database is briefly unavailable; the job will be retried.",
                Category.DATABASE,
                Severity.HIGH,
                retryable=True,
            )
        return SchedqError(
            "DATABASE_ERROR",
            "The schedule database refused the change.",
            Category.DATABASE,
            Severity.HIGH,
        )
    if isinstance(exc, sa_errors.TimeoutError):
        return SchedqError(
            "DATABASE_BUSY",
            "The schedule database is busy; the job will be retried.",
            Category.DATABASE,
            Severity.MEDIUM,
            retryable=True,
        )
    if isinstance(exc, redis_errors.ConnectionError | redis_errors.TimeoutError):
        return SchedqError(
            "CACHE_UNAVAILABLE",
            "A shared service is briefly unavailable; the job will be retried.",
            Category.NETWORK,
            Severity.MEDIUM,
            retryable=True,
        )
    if isinstance(exc, SoftTimeLimitExceeded | TimeoutError):
        return SchedqError(
            "JOB_TIMEOUT",
            "The job took too long; it will be retried.",
            Category.TIMEOUT,
            Severity.MEDIUM,
            retryable=True,
        )
    if isinstance(exc, ConnectionError | OSError):
        return SchedqError(
            "NETWORK_ERROR",
            "A network call failed; the job will be retried.",
            Category.NETWORK,
            Severity.MEDIUM,
            retryable=True,
        )
    return SchedqError(
        "UNEXPECTED_ERROR",
        "The job failed unexpectedly and was set aside for an operator.",
        Category.SYSTEM,
        Severity.CRITICAL,
        details={"exception": type(exc).__name__},
    )
