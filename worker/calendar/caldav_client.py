"""CalDAV access with the ``caldav`` library: incremental pulls by sync-token (RFC 6578).

The library brings its own HTTP stack (niquests); every request it makes is sent through
:class:`worker.calendar.egress.Session` instead (it replaces the client's ``session``), so CalDAV
gets the same target check, pinned address, redirect limit, byte cap and deadline as feeds, and
the credential goes only to the origin it is bound to. The library logs response bodies (non-XML
ones whole, at INFO on the root logger): both are silenced here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from caldav.davclient import DAVClient
from caldav.elements import dav
from caldav.lib import error as dav_error

from shared.calendar_credentials import Credential
from shared.calendar_settings import CalendarSettings
from worker.calendar import egress
from worker.calendar.breaker import guarded
from worker.calendar.providers import basic


class _NoProviderBodies(logging.Filter):
    """Drops caldav's ``logging.info("Expected some valid XML ... " + body)`` (root logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Expected some valid XML from the server")


logging.getLogger("caldav").setLevel(logging.CRITICAL)
logging.getLogger().addFilter(_NoProviderBodies())


class DavLink(Protocol):
    """Read-only view of a link (a row or a snapshot)."""

    @property
    def url(self) -> str: ...

    @property
    def sync_token(self) -> str | None: ...

    @property
    def credential(self) -> Credential | None: ...


@dataclass
class Pulled:
    full: bool
    token: str | None
    # href -> iCalendar text of every added or changed resource
    resources: dict[str, bytes] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)


def client_for(link: DavLink, settings: CalendarSettings) -> DAVClient:
    """A DAVClient whose every request goes through a checked egress session."""
    cred = link.credential
    client = DAVClient(
        url=link.url,
        timeout=int(settings.http_timeout),
        # 429 and Retry-After go to the job's retry policy, never a sleep inside a worker.
        rate_limit_handle=False,
        enable_rfc6764=False,
    )
    client.session.close()
    # Duck-typed like niquests' Session: caldav only calls request() and close().
    client.session = egress.Session(  # type: ignore[assignment]
        settings, basic(cred), cred.origin if cred else None
    )
    return client


def _href(obj: Any) -> str:
    return str(obj.url.canonical())


def _token_refused(exc: dav_error.DAVError) -> bool:
    return dav.ValidSyncToken.tag in (exc.preconditions or [])


def _collect(calendar: Any, result: Any, full: bool) -> Pulled:
    """Changed hrefs from the sync report, their data in one calendar-multiget REPORT."""
    pulled = Pulled(full=full, token=result.sync_token)
    pulled.deleted = {str(u) for u in result.deleted_urls}
    wanted = [obj.url for obj in result if _href(obj) not in pulled.deleted]
    for obj in calendar.multiget(wanted) if wanted else []:
        data = obj.data
        if data is None:
            pulled.deleted.add(_href(obj))  # gone between the two requests
            continue
        pulled.resources[_href(obj)] = data.encode() if isinstance(data, str) else data
    return pulled


def pull(link: DavLink, settings: CalendarSettings, full: bool = False) -> Pulled:
    """Changes since the stored token; everything when asked (``full``), when there is no
    token or when the server refuses it."""

    def call() -> Pulled:
        with client_for(link, settings) as client:
            calendar = client.calendar(url=link.url)
            if link.sync_token and not full:
                try:
                    result = calendar.get_objects_by_sync_token(
                        sync_token=link.sync_token, load_objects=False, disable_fallback=True
                    )
                    return _collect(calendar, result, full=False)
                except dav_error.DAVError as exc:
                    if not _token_refused(exc):
                        raise
            result = calendar.get_objects_by_sync_token(
                sync_token=None, load_objects=False, disable_fallback=True
            )
            return _collect(calendar, result, full=True)

    return guarded(link.url, call)
