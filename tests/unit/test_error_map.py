"""The exception table: every family lands in the right category, and no message leaks internals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import psycopg.errors as pg
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

from shared.errors import Category, SchedqError, Severity
from shared.provider_errors import retry_after_seconds
from shared.settings import Settings
from worker.pipeline.error_map import classify

SECRET_SQL = "SELECT password FROM staff WHERE host='db-primary.internal.example'"
SECRET_HOST = "db-primary.internal.example"


def _sa(cls: type[sa_errors.DBAPIError], orig: Exception) -> sa_errors.DBAPIError:
    return cls(SECRET_SQL, {"p": "secret-param"}, orig)


def _http(status: int, headers: dict[str, str] | None = None) -> httpx.HTTPStatusError:
    request = httpx.Request("GET", f"https://{SECRET_HOST}/cal/dr-1/")
    response = httpx.Response(status, headers=headers or {}, request=request)
    return httpx.HTTPStatusError(f"{status} from {SECRET_HOST}", request=request, response=response)


CASES: list[tuple[str, BaseException, str, Category, bool]] = [
    ("admin shutdown", _sa(sa_errors.OperationalError, pg.AdminShutdown(SECRET_HOST)),
     "DATABASE_UNAVAILABLE", Category.DATABASE, True),
    ("deadlock", _sa(sa_errors.DBAPIError, pg.DeadlockDetected(SECRET_SQL)),
     "DATABASE_UNAVAILABLE", Category.DATABASE, True),
    ("serialization", _sa(sa_errors.DBAPIError, pg.SerializationFailure(SECRET_SQL)),
     "DATABASE_UNAVAILABLE", Category.DATABASE, True),
    ("too many connections", _sa(sa_errors.OperationalError, pg.TooManyConnections(SECRET_HOST)),
     "DATABASE_UNAVAILABLE", Category.DATABASE, True),
    ("exclusion", _sa(sa_errors.IntegrityError, pg.ExclusionViolation(SECRET_SQL)),
     "SCHEDULE_CONFLICT", Category.BUSINESS_LOGIC, False),
    ("unique", _sa(sa_errors.IntegrityError, pg.UniqueViolation(SECRET_SQL)),
     "DUPLICATE", Category.BUSINESS_LOGIC, False),
    ("foreign key", _sa(sa_errors.IntegrityError, pg.ForeignKeyViolation(SECRET_SQL)),
     "REFERENCE_MISSING", Category.BUSINESS_LOGIC, False),
    ("syntax", _sa(sa_errors.ProgrammingError, pg.SyntaxError(SECRET_SQL)),
     "DATABASE_ERROR", Category.DATABASE, False),
    ("pool timeout", sa_errors.TimeoutError(f"QueuePool limit reached {SECRET_HOST}"),
     "DATABASE_BUSY", Category.DATABASE, True),
    ("redis down", redis_errors.ConnectionError(f"Error 111 connecting to {SECRET_HOST}:6379"),
     "CACHE_UNAVAILABLE", Category.NETWORK, True),
    ("redis timeout", redis_errors.TimeoutError(SECRET_HOST),
     "CACHE_UNAVAILABLE", Category.NETWORK, True),
    ("redis refused", redis_errors.ResponseError(f"OOM command not allowed {SECRET_HOST}"),
     "CACHE_ERROR", Category.SYSTEM, False),
    ("http 503", _http(503), "CALENDAR_PROVIDER_ERROR", Category.EXTERNAL_SERVICE, True),
    ("http 500", _http(500), "CALENDAR_PROVIDER_ERROR", Category.EXTERNAL_SERVICE, True),
    ("http 429", _http(429, {"Retry-After": "7"}),
     "CALENDAR_RATE_LIMITED", Category.EXTERNAL_SERVICE, True),
    ("http 401", _http(401), "CALENDAR_AUTH_REFUSED", Category.AUTHENTICATION, False),
    ("http 403", _http(403), "CALENDAR_FORBIDDEN", Category.AUTHORIZATION, False),
    ("http 404", _http(404), "CALENDAR_NOT_FOUND", Category.EXTERNAL_SERVICE, False),
    ("http 400", _http(400), "CALENDAR_REQUEST_REFUSED", Category.EXTERNAL_SERVICE, False),
    ("http read timeout", httpx.ReadTimeout(f"timed out reading {SECRET_HOST}"),
     "CALENDAR_TIMEOUT", Category.TIMEOUT, True),
    ("http connect timeout", httpx.ConnectTimeout(SECRET_HOST),
     "CALENDAR_TIMEOUT", Category.TIMEOUT, True),
    ("http connect error", httpx.ConnectError(f"[Errno 111] {SECRET_HOST}"),
     "CALENDAR_UNREACHABLE", Category.NETWORK, True),
    ("http reset", httpx.RemoteProtocolError(SECRET_HOST),
     "CALENDAR_UNREACHABLE", Category.NETWORK, True),
    ("soft time limit", SoftTimeLimitExceeded(), "JOB_TIMEOUT", Category.TIMEOUT, True),
    ("builtin timeout", TimeoutError(SECRET_HOST), "JOB_TIMEOUT", Category.TIMEOUT, True),
    ("socket", ConnectionResetError(SECRET_HOST), "NETWORK_ERROR", Category.NETWORK, True),
    ("bug", KeyError(SECRET_SQL), "UNEXPECTED_ERROR", Category.SYSTEM, False),
]  # fmt: skip


@pytest.mark.parametrize(("label", "exc", "code", "category", "retryable"), CASES)
def test_exception_maps_to_code_category_and_retryability(
    label: str, exc: BaseException, code: str, category: Category, retryable: bool
) -> None:
    err = classify(exc)
    assert (err.code, err.category, err.retryable) == (code, category, retryable), label


@pytest.mark.parametrize("exc", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_messages_leak_no_sql_hosts_params_or_tracebacks(exc: BaseException) -> None:
    shown = json.dumps(classify(exc).as_dict())
    for secret in ("SELECT", "password", SECRET_HOST, "secret-param", "Traceback", "Errno"):
        assert secret not in shown


def test_domain_errors_pass_through_unchanged() -> None:
    err = SchedqError("X", "x", Category.VALIDATION, Severity.LOW)
    assert classify(err) is err


def test_retry_after_seconds_and_http_date_are_honoured() -> None:
    assert classify(_http(429, {"Retry-After": "7"})).retry_after == 7.0
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Sat, 28 Nov 2026 12:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Sat, 28 Nov 2026 11:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert classify(_http(503)).retry_after is None


def test_retry_limits_are_per_category_with_max_retries_as_default() -> None:
    s = Settings(max_retries=4, retry_limits={"NETWORK": 9, "EXTERNAL_SERVICE": 2})
    assert s.retry_limit("NETWORK") == 9
    assert s.retry_limit("EXTERNAL_SERVICE") == 2
    assert s.retry_limit("DATABASE") == 4
    with pytest.raises(ValueError, match="unknown error category"):
        Settings(retry_limits={"NETWRK": 1})
