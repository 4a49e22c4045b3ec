"""Fetch an ICS feed over HTTP with a conditional GET, a size limit and the link's credentials."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import httpx

from shared.calendar_settings import CalendarSettings
from shared.db.calendar import CalendarLink
from shared.domain.ical_busy import ics_error
from shared.errors import SchedqError
from worker.calendar.breaker import guarded
from worker.calendar.providers import link_secret, resolved_url, status_error


@dataclass(frozen=True)
class Feed:
    not_modified: bool
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


# httpx logs every request URL at INFO; a private feed URL is a credential.
logging.getLogger("httpx").setLevel(logging.WARNING)


def _auth(link: CalendarLink) -> httpx.BasicAuth | None:
    if not link.username:
        return None
    return httpx.BasicAuth(link.username, link_secret(link.secret_ref) or "")


def _too_large(limit: int) -> SchedqError:
    return ics_error(
        "ICS_TOO_LARGE", f"The feed is larger than the {limit}-byte limit.", limit_bytes=limit
    )


def _get(link: CalendarLink, settings: CalendarSettings, conditional: bool) -> Feed:
    headers = {"Accept": "text/calendar"}
    if conditional and link.etag:
        headers["If-None-Match"] = link.etag
    if conditional and link.last_modified:
        headers["If-Modified-Since"] = link.last_modified
    limit = settings.max_feed_bytes
    with (
        httpx.Client(timeout=settings.http_timeout, follow_redirects=True, auth=_auth(link)) as c,
        c.stream("GET", resolved_url(link.url, link.secret_ref), headers=headers) as response,
    ):
        if response.status_code == 304:
            return Feed(not_modified=True)
        if response.status_code >= 400:
            raise status_error(response.status_code, response.headers.get("Retry-After"))
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return Feed(
            not_modified=False,
            body=b"".join(chunks),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )


def fetch(link: CalendarLink, settings: CalendarSettings, conditional: bool = True) -> Feed:
    return guarded(link.url, lambda: _get(link, settings, conditional))
