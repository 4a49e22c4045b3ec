"""Fetch an ICS feed: a conditional GET through the checked egress (target, bytes, deadline)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol

from shared.calendar_credentials import Credential
from shared.calendar_settings import CalendarSettings
from shared.provider_errors import status_error
from worker.calendar import egress
from worker.calendar.breaker import guarded
from worker.calendar.providers import basic, resolved_url


@dataclass(frozen=True)
class Feed:
    not_modified: bool
    body: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class FeedLink(Protocol):
    """Read-only view of a link (a row or a snapshot)."""

    @property
    def url(self) -> str: ...

    @property
    def etag(self) -> str | None: ...

    @property
    def last_modified(self) -> str | None: ...

    @property
    def credential(self) -> Credential | None: ...


# httpx logs every request URL at INFO; a private feed URL is a credential.
logging.getLogger("httpx").setLevel(logging.WARNING)


def _get(link: FeedLink, settings: CalendarSettings, conditional: bool) -> Feed:
    headers = {"Accept": "text/calendar"}
    if conditional and link.etag:
        headers["If-None-Match"] = link.etag
    if conditional and link.last_modified:
        headers["If-Modified-Since"] = link.last_modified
    cred = link.credential
    with egress.Session(settings, basic(cred), cred.origin if cred else None) as session:
        reply = session.request("GET", resolved_url(link.url, cred), headers=headers)
    if reply.status_code == 304:
        return Feed(not_modified=True)
    if reply.status_code >= 400:
        raise status_error(reply.status_code, reply.headers.get("Retry-After"))
    return Feed(
        not_modified=False,
        body=reply.content,
        etag=reply.headers.get("ETag"),
        last_modified=reply.headers.get("Last-Modified"),
    )


def fetch(link: FeedLink, settings: CalendarSettings, conditional: bool = True) -> Feed:
    return guarded(link.url, lambda: _get(link, settings, conditional))
