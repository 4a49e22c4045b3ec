"""Provider faults -> the error model (pure mapping, no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from caldav.lib import error as dav_error

from shared.errors import Category
from worker.calendar.providers import map_provider_error, resolved_url, retry_after_seconds


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 <= (retry_after_seconds(when) or 0) <= 90
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize(
    ("exc", "category", "retryable", "retry_after"),
    [
        (dav_error.RateLimitError(status=429, retry_after="4", retry_after_seconds=4.0),
         Category.EXTERNAL_SERVICE, True, 4.0),
        (dav_error.AuthorizationError(status=401), Category.AUTHENTICATION, False, None),
        (dav_error.AuthorizationError(status=403), Category.AUTHORIZATION, False, None),
        (dav_error.DAVError(status=502), Category.EXTERNAL_SERVICE, True, None),
        (httpx.ReadTimeout("slow"), Category.TIMEOUT, True, None),
        (httpx.ConnectError("refused"), Category.NETWORK, True, None),
        (ConnectionRefusedError(), Category.NETWORK, True, None),
    ],
)  # fmt: skip
def test_mapping(
    exc: BaseException, category: Category, retryable: bool, retry_after: float | None
) -> None:
    err = map_provider_error(exc)
    assert (err.category, err.retryable, err.retry_after) == (category, retryable, retry_after)


def test_unknown_exceptions_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        map_provider_error(KeyError("bug"))


def test_private_feed_token_is_quoted_into_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCHEDQ_SECRET_TOK", "a/b c")
    url = "https://h/private/%7Bsecret%7D/basic.ics"
    assert resolved_url(url, "TOK") == "https://h/private/a%2Fb%20c/basic.ics"
    assert resolved_url("https://h/plain.ics", None) == "https://h/plain.ics"
