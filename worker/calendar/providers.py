"""Calendar provider faults mapped to the error model, and a link's credential in its URL.

Status codes and Retry-After go through ``shared.provider_errors`` (the same table the task's
last-resort map uses), so one fault has one code on every path. Transient failures (timeouts,
refused connections, 5xx, 429) are retryable; 401/403 say the credentials were refused and are
not retried; other 4xx and answers that are not valid CalDAV are permanent. Messages never name
the host and never carry a response body. The breaker lives in ``worker.calendar.breaker``.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx
from caldav.lib import error as dav_error
from lxml import etree

from shared.calendar_credentials import Credential
from shared.errors import SchedqError, error
from shared.provider_errors import status_error

# Libraries that read provider answers: what they raise is about the answer, not our code.
_READERS = ("caldav", "lxml", "icalendar", "niquests")


def _raised_reading_answer(exc: BaseException) -> bool:
    """An lxml/caldav error, or an exception raised while a reader library was working on an
    answer: the innermost frame that is either ours or a reader's belongs to a reader (a hostile
    answer makes caldav hit KeyError, TypeError in urllib ...); our own bugs stay bugs."""
    if isinstance(exc, etree.LxmlError | dav_error.DAVError):
        return True
    owner = ""
    tb = exc.__traceback__
    while tb is not None:
        package = str(tb.tb_frame.f_globals.get("__name__", "")).split(".", 1)[0]
        if package in _READERS or package in ("worker", "shared"):
            owner = package
        tb = tb.tb_next
    return owner in _READERS


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
    if isinstance(exc, dav_error.DAVError) and exc.status and str(exc.status).isdigit():
        return status_error(int(exc.status))
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return error("CALENDAR_TIMEOUT")
    if isinstance(exc, httpx.TooManyRedirects):
        return error("CALENDAR_TOO_MANY_REDIRECTS", limit="the allowed number of")
    if isinstance(exc, httpx.DecodingError):
        return error("CALENDAR_BAD_RESPONSE", details={"problem": "undecodable body"})
    if isinstance(exc, httpx.TransportError | ConnectionError | OSError):
        return error("CALENDAR_UNREACHABLE")
    if _raised_reading_answer(exc):
        # Only the exception's type: its text may quote the provider's body.
        return error("CALENDAR_BAD_RESPONSE", details={"exception": type(exc).__name__})
    raise exc


_PLACEHOLDERS = ("{secret}", "%7Bsecret%7D", "%7bsecret%7d")


def resolved_url(url: str, credential: Credential | None) -> str:
    """Private feed URLs carry a token: the link stores ``{secret}`` in its place.

    The credential was checked against the URL's origin before this is called, so the token
    only ever goes to the origin it was registered for.
    """
    found = next((p for p in _PLACEHOLDERS if p in url), None)
    if found is None:
        return url
    if credential is None:
        raise error("CALENDAR_CREDENTIAL_MISSING", details={"credential": None})
    return url.replace(found, quote(credential.secret, safe=""))


def basic(credential: Credential | None) -> tuple[str, str] | None:
    """Basic auth for a credential with a user name (a token-only credential has none)."""
    if credential is None or credential.username is None:
        return None
    return (credential.username, credential.secret)
