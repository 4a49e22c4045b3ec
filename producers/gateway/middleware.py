"""ASGI middleware: request body caps and content types, then metrics and the access log.

The access log and the metrics name the route *template* (``/v1/jobs/{job_id}``), never the raw
path or query, which carry doctor ids, job ids and dates; the client is named, no body is.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from producers.gateway.problems import problem_response
from shared.availability_cache import CACHE_REQUESTS
from shared.errors import SchedqError, error

access_log = logging.getLogger("schedq.gateway.access")
log = logging.getLogger("schedq.gateway")

REGISTRY = CollectorRegistry(auto_describe=True)
# The gateway serves availability through the shared cache: its lookups are scraped here.
REGISTRY.register(CACHE_REQUESTS)
REQUESTS = Counter(
    "schedq_http_requests",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "schedq_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
_WRITES = {"POST", "PUT", "PATCH"}
# A client may send any method token: label values stay a fixed set.
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
UNMATCHED = "unmatched"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


class BodyLimits:
    """413 over ``max_bytes`` (declared or streamed), 415 for a body that is not JSON."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _problem(scope, error("BODY_TOO_LARGE", limit=self.max_bytes))(
                scope, receive, send
            )
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _problem(scope, error("BODY_TOO_LARGE", limit=self.max_bytes))(
                    scope, receive, send
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body and not _is_json(scope):
            expected = "application/fhir+json" if _is_fhir(scope) else "application/json"
            await _problem(scope, error("UNSUPPORTED_MEDIA_TYPE", expected=expected))(
                scope, receive, send
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _problem(scope: Scope, err: SchedqError) -> Response:
    return problem_response(err, fhir=_is_fhir(scope))


def _is_fhir(scope: Scope) -> bool:
    return str(scope.get("path", "")).startswith("/fhir/")


def _is_json(scope: Scope) -> bool:
    media = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (_is_fhir(scope) and media == "application/fhir+json")


class AccessLogAndMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        state: dict[str, Any] = scope.setdefault("state", {})

        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = int(message["status"])
                started_response = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            # Answered here so no server prints a traceback: exception texts can quote SQL
            # parameters, that is, payload values. The type is enough to find it in the code.
            log.error("unexpected error: %s", type(exc).__name__)
            if not started_response:
                await _problem(scope, error("INTERNAL_ERROR"))(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "other"
            REQUESTS.labels(route, method, str(status)).inc()
            LATENCY.labels(route, method).observe(elapsed)
            access_log.info(
                "%s %s %s",
                method,
                route,
                status,
                extra={
                    "http_method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": state.get("client_name", "-"),
                },
            )
