"""A hostile calendar server on 127.0.0.1: every behaviour the attacks in tests/security need.

Tests register a behaviour per path (``server.on(path, behaviour)``); the server records every
request (method, path, headers) and counts the body bytes it managed to send, so a test can
prove what a worker did and did not do (e.g. "no request at all", "stopped reading at the cap").
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.calendar_servers import LoopbackHTTP

Behaviour = Callable[[BaseHTTPRequestHandler, "HostileServer"], None]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    sent_bytes: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                behaviour = server.behaviours.get(self.path.split("?", 1)[0])
                try:
                    if behaviour is None:
                        reply(self, 404, b"")
                    else:
                        behaviour(self, server)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: what a cap is supposed to do

            do_GET = do_PUT = do_PROPFIND = do_REPORT = do_OPTIONS = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.http = LoopbackHTTP(Handler)
        self.port = self.http.port

    def url(self, path: str) -> str:
        return self.http.url(path)

    def on(self, path: str, behaviour: Behaviour) -> str:
        self.behaviours[path] = behaviour
        return self.url(path)

    def hits(self, prefix: str = "/") -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    def close(self) -> None:
        self.release.set()
        self.http.close()


def reply(h: BaseHTTPRequestHandler, status: int, body: bytes, **headers: str) -> None:
    h.send_response(status)
    for key, value in {"Content-Type": "text/calendar", **headers}.items():
        h.send_header(key.replace("_", "-"), value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def body(data: bytes, status: int = 200, **headers: str) -> Behaviour:
    return lambda h, _s: reply(h, status, data, **headers)


def redirect(location: str, status: int = 302) -> Behaviour:
    # A redirect with a large body: a client that reads redirect bodies pays for it.
    return lambda h, _s: reply(h, status, b"x" * 4096, Location=location)


def endless(chunk: bytes = b"X" * 65536, content_type: str = "text/calendar") -> Behaviour:
    """Chunked body without end (a '300 MB' answer): counts what it got to send."""

    def run(h: BaseHTTPRequestHandler, s: HostileServer) -> None:
        h.send_response(207 if h.command in ("PROPFIND", "REPORT") else 200)
        h.send_header("Content-Type", content_type)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for _ in range(5000):  # 320 MiB at most
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            s.sent_bytes += len(chunk)

    return run


def gzip_bomb(size: int = 512 * 1024 * 1024) -> Behaviour:
    """A small compressed body that inflates to ``size`` bytes."""
    payload = gzip.compress(b"\0" * size, compresslevel=9)

    def run(h: BaseHTTPRequestHandler, s: HostileServer) -> None:
        reply(h, 200, payload, Content_Encoding="gzip")
        s.sent_bytes += len(payload)

    return run


def trickle(interval: float = 0.2) -> Behaviour:
    """One byte at a time, forever: every read succeeds, the request never ends."""

    def run(h: BaseHTTPRequestHandler, s: HostileServer) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/calendar")
        h.send_header("Connection", "close")  # no length: the body ends when the server closes
        h.end_headers()
        for _ in range(100_000):
            if s.release.is_set():
                return
            h.wfile.write(b"B")
            h.wfile.flush()
            s.sent_bytes += 1
            time.sleep(interval)

    return run


def hang_then(data: bytes) -> Behaviour:
    """Signal ``arrived``, hold the request until the test sets ``release``, then answer."""

    def run(h: BaseHTTPRequestHandler, s: HostileServer) -> None:
        s.arrived.set()
        s.release.wait(120)
        reply(h, 200, data)

    return run


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    yield server
    server.close()
