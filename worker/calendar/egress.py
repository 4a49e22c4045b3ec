"""Every request to a calendar provider: a checked target, a byte cap and a total deadline.

- Target: the host is resolved once; every address must be public (not loopback, private,
  link-local, CGNAT, multicast, reserved, unspecified, or an IPv6 form of those, IPv4-mapped
  included) unless ``SCHEDQ_CALENDAR_ALLOWED_NETWORKS`` names it. The connection goes to the
  checked address (the Host header and TLS SNI/certificate check keep the name), so DNS cannot
  answer differently between the check and the connect. Obfuscated literals (``2130706433``,
  ``0x7f.1``, ``0177.0.0.1``) resolve to the address they mean and are checked as such.
- Redirects are followed by hand, each hop checked again, at most ``max_redirects``; the
  credential goes only to its own origin. Every refusal is ``CALENDAR_TARGET_REFUSED``, whose
  message and details say nothing about the target.
- Bodies (redirect bodies included: never read) are streamed and counted after decompression,
  so neither a large body nor a gzip bomb grows a worker past ``max_response_bytes``.
- One deadline covers the whole interaction (resolution, redirects, every read).
"""

from __future__ import annotations

import base64
import socket
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from shared.calendar_settings import CalendarSettings
from shared.domain.origins import origin_of
from shared.errors import SchedqError, error
from worker.calendar import metrics as calendar_metrics
from worker.calendar.targets import permitted, refused

_REDIRECTS = {301, 302, 303, 307, 308}


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# The seams tests replace: name -> addresses, and the transport that really connects.
resolve: Callable[[str, int], list[str]] = system_resolve


def connect_transport() -> httpx.BaseTransport:
    return httpx.HTTPTransport(retries=0, trust_env=False)


def check_target(host: str, port: int, settings: CalendarSettings) -> str:
    """The one address to connect to, or CALENDAR_TARGET_REFUSED."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise error("CALENDAR_UNREACHABLE") from None
    if not addresses:
        raise error("CALENDAR_UNREACHABLE")
    if not all(permitted(a, settings) for a in addresses):
        raise refused("address")
    return addresses[0]


class PinnedTransport(httpx.BaseTransport):
    """Connects to the checked address of each request's host, keeping Host and SNI."""

    def __init__(self, settings: CalendarSettings) -> None:
        self.settings = settings
        self.inner = connect_transport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise refused("scheme")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = check_target(url.host, port, self.settings)
        request.url = url.copy_with(host=address)
        request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Reply:
    """A finished response with its (capped, decoded) body; quacks like niquests' for caldav."""

    status_code: int
    headers: httpx.Headers
    content: bytes
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def reason(self) -> str:
        return httpx.codes.get_reason_phrase(self.status_code)

    reason_phrase = reason


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise error("CALENDAR_TIMEOUT", details={"deadline": True})
        return remaining


def too_large(limit: int) -> SchedqError:
    calendar_metrics.RESPONSE_TOO_LARGE.inc()
    return error("CALENDAR_RESPONSE_TOO_LARGE", limit_bytes=limit, details={"limit_bytes": limit})


def _decoder(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise error("CALENDAR_BAD_RESPONSE", details={"problem": "unsupported content encoding"})


def read_capped(response: httpx.Response, limit: int, deadline: Deadline) -> bytes:
    """The body, decompressed at most ``limit + 1`` bytes at a time, within the deadline."""
    declared = response.headers.get("Content-Length", "")
    encoding = response.headers.get("Content-Encoding", "")
    if declared.isdigit() and int(declared) > limit and not encoding:
        raise too_large(limit)
    decoder = _decoder(encoding)
    out = bytearray()
    try:
        for raw in response.iter_raw():
            deadline.left()
            data = raw
            while data:
                if decoder is None:
                    chunk, data = data, b""
                else:
                    chunk = decoder.decompress(data, limit + 1 - len(out))
                    data = decoder.unconsumed_tail
                out += chunk
                if len(out) > limit:
                    raise too_large(limit)
                if decoder is not None and not chunk:
                    break
    except zlib.error:
        problem = {"problem": "corrupt compressed body"}
        raise error("CALENDAR_BAD_RESPONSE", details=problem) from None
    return bytes(out)


class Session:
    """One provider interaction (a feed fetch, a CalDAV pull or publish).

    ``request`` has the signature caldav's DAVClient calls on its HTTP session, so CalDAV
    traffic takes this path too (see ``worker.calendar.caldav_client``).
    """

    def __init__(
        self,
        settings: CalendarSettings,
        credential: tuple[str, str] | None = None,
        origin: str | None = None,
    ) -> None:
        self.settings = settings
        self.deadline = Deadline(settings.request_deadline_seconds)
        self.origin = origin
        self._auth = (
            "Basic " + base64.b64encode(f"{credential[0]}:{credential[1]}".encode()).decode()
            if credential
            else None
        )
        self.client = httpx.Client(
            transport=PinnedTransport(settings), follow_redirects=False, trust_env=False
        )

    def _headers(self, url: httpx.URL, headers: Mapping[str, str] | None) -> dict[str, str]:
        out = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
        out["Accept-Encoding"] = "gzip, deflate"
        if self._auth and self.origin is not None and _same_origin(url, self.origin):
            out["Authorization"] = self._auth
        return out

    def request(
        self,
        method: str,
        url: str,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        **_ignored: Any,  # proxies, auth, timeout, verify, cert from caldav: ours apply
    ) -> Reply:
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, ValueError):
            raise refused("url") from None  # e.g. 0177.0.0.1, which httpx will not parse
        body = data.encode() if isinstance(data, str) else data
        for _hop in range(self.settings.max_redirects + 1):
            timeout = min(self.settings.http_timeout, self.deadline.left())
            req = self.client.build_request(
                method, target, content=body, headers=self._headers(target, headers),
                timeout=timeout,
            )  # fmt: skip
            response = self.client.send(req, stream=True)
            try:
                location = response.headers.get("Location")
                if response.status_code in _REDIRECTS and location:
                    # Never read a redirect's body; the next hop is checked like the first.
                    target = _next_target(target, location)
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method == "POST"
                    ):
                        method, body = "GET", None
                    continue
                content = read_capped(response, self.settings.max_response_bytes, self.deadline)
            finally:
                response.close()
            decoded = httpx.Headers(
                [(k, v) for k, v in response.headers.multi_items()
                 if k.lower() not in ("content-encoding", "content-length")]
            )  # fmt: skip
            return Reply(response.status_code, decoded, content, str(target))
        calendar_metrics.TARGET_REFUSED.labels("redirects").inc()
        raise error("CALENDAR_TOO_MANY_REDIRECTS", limit=self.settings.max_redirects)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _same_origin(url: httpx.URL, origin: str) -> bool:
    try:
        return origin_of(str(url)) == origin
    except ValueError:
        return False


def _next_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, ValueError):
        raise error("CALENDAR_BAD_RESPONSE", details={"problem": "invalid redirect"}) from None
    if target.scheme not in ("http", "https"):
        raise refused("scheme")
    return target
