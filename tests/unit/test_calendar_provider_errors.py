"""Provider faults -> the error model (pure mapping, no servers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from caldav.lib import error as dav_error

from shared.calendar_credentials import Credential
from shared.errors import Category
from shared.provider_errors import retry_after_seconds, status_error
from worker.calendar.providers import map_provider_error, resolved_url


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert retry_after_seconds("120") == 120.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    assert 80 <= (retry_after_seconds(when) or 0) <= 90
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("999999") == 3600.0  # a provider cannot park a job for days


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


def test_a_hostile_answer_that_breaks_caldav_is_a_provider_code_not_a_bug() -> None:
    from caldav.response import DAVResponse

    # A 207 that says XML and is not: caldav's parser fails inside the library.
    answer = httpx.Response(
        207, headers={"Content-Type": "application/xml"}, content=b"<x>secret body"
    )
    with pytest.raises(Exception) as refused:  # whatever caldav's parser raises
        DAVResponse(answer)
    err = map_provider_error(refused.value)
    assert err.code == "CALENDAR_BAD_RESPONSE"
    assert err.severity != "CRITICAL"
    assert "<x>" not in str(err.as_dict())


def test_our_own_bugs_are_not_hidden_as_provider_faults() -> None:
    with pytest.raises(KeyError):
        map_provider_error(KeyError("bug"))


def test_same_status_same_code_on_every_path() -> None:
    from worker.pipeline.error_map import classify

    for status in (401, 403, 404, 429, 500, 503, 400):
        response = httpx.Response(status, request=httpx.Request("GET", "https://p.test/"))
        exc = httpx.HTTPStatusError("x", request=response.request, response=response)
        assert map_provider_error(exc).code == classify(exc).code == status_error(status).code


def test_private_feed_token_is_quoted_into_the_url() -> None:
    cred = Credential("TOK", "https://h:443", None, "a/b c")
    url = "https://h/private/%7Bsecret%7D/basic.ics"
    assert resolved_url(url, cred) == "https://h/private/a%2Fb%20c/basic.ics"
    assert resolved_url("https://h/plain.ics", None) == "https://h/plain.ics"
    assert "a/b c" not in repr(cred)
