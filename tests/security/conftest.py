"""Attacks on the calendar boundary against real servers on 127.0.0.1 and real PostgreSQL.

Nothing here may send traffic beyond loopback: every connection the egress opens in this
process goes through :class:`LoopbackOnly`, which fails the test for any other address, and
refusals for other ranges are proved through the resolver seam (``egress.resolve``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest

import tests.calendar_env  # noqa: F401  (before any settings are read)
from shared.calendar_settings import reset_calendar_settings_cache
from tests.calendar_servers import feed_server, radicale_server  # noqa: F401
from tests.security.hostile import hostile  # noqa: F401
from worker.calendar import egress


class LoopbackOnly(httpx.BaseTransport):
    """The real transport, but only to 127.0.0.1; anything else fails the test."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport(retries=0, trust_env=False)
        self.hosts: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.hosts.append(host)
        if not ipaddress.ip_address(host).is_loopback:
            pytest.fail(f"a connection to {host} was attempted")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[LoopbackOnly]]:
    opened: list[LoopbackOnly] = []

    def transport() -> httpx.BaseTransport:
        opened.append(LoopbackOnly())
        return opened[-1]

    monkeypatch.setattr(egress, "connect_transport", transport)
    yield opened


@pytest.fixture
def calendar_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change SCHEDQ_CALENDAR_* for one test (settings are cached per process)."""
    reset_calendar_settings_cache()
    yield monkeypatch
    monkeypatch.undo()
    reset_calendar_settings_cache()
