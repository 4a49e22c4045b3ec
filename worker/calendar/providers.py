"""Calendar provider faults mapped to the error model, and the links' secrets.

Transient failures (timeouts, refused connections, 5xx, 429 with its Retry-After) are
retryable; 401/403 say the credentials were refused and are not retried; other 4xx are
permanent. Messages never name the host. The breaker lives in ``worker.calendar.breaker``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote

import httpx
from caldav.lib import error as dav_error

from shared.calendar_settings import resolve_secret
from shared.errors import Category, SchedqError, Severity

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


def link_secret(secret_ref: str | None) -> str | None:
    """The secret a link names, or a clear error when the workers do not have it."""
    if not secret_ref:
        return None
    secret = resolve_secret(secret_ref)
    if secret is None:
        raise SchedqError(
            "CALENDAR_SECRET_MISSING",
            "The secret this calendar link refers to is not configured on the workers.",
            Category.AUTHENTICATION,
            Severity.HIGH,
            details={"secret_ref": secret_ref, "variable": f"SCHEDQ_SECRET_{secret_ref.upper()}"},
        )
    return secret


_PLACEHOLDERS = ("{secret}", "%7Bsecret%7D", "%7bsecret%7d")


def resolved_url(url: str, secret_ref: str | None) -> str:
    """Private feed URLs carry a token: the link stores ``{secret}`` in its place."""
    found = next((p for p in _PLACEHOLDERS if p in url), None)
    if found is None:
        return url
    secret = link_secret(secret_ref) or ""
    return url.replace(found, quote(secret, safe=""))
