"""Real calendar servers on 127.0.0.1 for tests: an ICS feed server and Radicale (CalDAV).

Both count the requests they receive, so tests can assert what a sync costs.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304 when the body is unchanged
    delay: float = 0.0
    auth: str | None = None  # expected Authorization header; 401 without it
    before: list[Route] = field(default_factory=list)  # answered first, one per request


class LoopbackHTTP:
    """A threaded HTTP server on 127.0.0.1 and a free port, serving ``handler`` until closed."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FeedServer:
    """``routes[path] = Route(...)``; change a route's body and the ETag changes with it."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional_hits: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits[self.path] += 1
                if self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"):
                    server.conditional_hits[self.path] += 1
                route = server.routes.get(self.path)
                if route is not None and route.before:
                    route = route.before.pop(0)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                if route.auth is not None and self.headers.get("Authorization") != route.auth:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="feed"')
                    self.end_headers()
                    return
                if route.delay:
                    time.sleep(route.delay)
                tag = '"' + hashlib.sha1(route.body).hexdigest() + '"'
                if route.etag and route.status == 200 and self.headers.get("If-None-Match") == tag:
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                if route.etag and route.status == 200:
                    self.send_header("ETag", tag)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = LoopbackHTTP(Handler)
        self.port = self.http.port

    def url(self, path: str) -> str:
        return self.http.url(path)

    def close(self) -> None:
        self.http.close()


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


class RadicaleServer:
    """Radicale from PyPI in a thread: no authentication (set explicitly), storage in a temp
    folder. ``requests`` lists (method, path) of every request it served."""

    def __init__(self, storage: Path) -> None:
        import radicale
        import radicale.config

        config = radicale.config.load()
        config.update(
            {
                # Radicale 3.5+ defaults to denyall: tests say "none" on purpose.
                # No anti-brute-force sleep on 403 (an expired sync token is a 403).
                "auth": {"type": "none", "delay": "0"},
                "server": {"delay_on_error": "0"},
                "rights": {"type": "authenticated"},
                "storage": {"filesystem_folder": str(storage)},
                "logging": {"level": "warning", "mask_passwords": "True"},
            },
            "schedq tests",
            privileged=True,
        )
        app = radicale.Application(config)
        self.requests: list[tuple[str, str]] = []
        # (method, path, If-Match, If-None-Match) of every request
        self.conditions: list[tuple[str, str, str | None, str | None]] = []
        self.before: Callable[[str, str], tuple[int, dict[str, str]] | None] | None = None

        def counting(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
            self.requests.append((method, path))
            cond = (environ.get("HTTP_IF_MATCH"), environ.get("HTTP_IF_NONE_MATCH"))
            self.conditions.append((method, path, *cond))
            if self.before is not None:
                forced = self.before(method, path)
                if forced is not None:
                    status, headers = forced
                    start_response(f"{status} Forced", list(headers.items()))
                    return [b""]
            return app(environ, start_response)  # type: ignore[no-any-return]

        self.httpd = make_server(
            "127.0.0.1", 0, counting, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def make_calendar(self, path: str) -> str:
        """Create a calendar collection (MKCALENDAR) and return its URL."""
        from caldav.davclient import DAVClient

        url = f"{self.base}{path}"
        with DAVClient(url=url, username="tester", password="x", enable_rfc6764=False) as c:
            # The client never authenticates here (no 401 from auth "none"): create the parent.
            parent = f"{self.base}/{path.strip('/').split('/')[0]}/"
            if c.request(parent, "PROPFIND", "", {"Depth": "0"}).status == 404:
                c.mkcol(parent, "")
            response = c.mkcalendar(url)
            assert response.status in (201, 200), response.status
        return url

    def put(self, url: str, ics: str) -> None:
        from caldav.davclient import DAVClient

        with DAVClient(url=url, username="tester", password="x", enable_rfc6764=False) as c:
            response = c.put(url, ics, {"Content-Type": "text/calendar"})
            assert response.status in (201, 204), response.status

    def delete(self, url: str) -> None:
        from caldav.davclient import DAVClient

        with DAVClient(url=url, username="tester", password="x", enable_rfc6764=False) as c:
            response = c.delete(url)
            assert response.status in (200, 204), response.status

    def get(self, url: str) -> tuple[str, str]:
        from caldav.davclient import DAVClient

        with DAVClient(url=url, username="tester", password="x", enable_rfc6764=False) as c:
            response = c.request(url, "GET")
            return response.raw, response.headers.get("ETag", "")

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def fresh_feed() -> Iterator[FeedServer]:
    """A feed server of its own (own port = own breaker): for failure-mode tests."""
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    logging.getLogger("radicale").setLevel(logging.ERROR)
    server = RadicaleServer(tmp_path_factory.mktemp("radicale"))
    yield server
    server.close()
