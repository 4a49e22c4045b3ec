"""The gateway's FastAPI application: routers, middleware and one place mapping errors to
problems. Served by uvicorn (``schedq api``); ``create_app`` is its factory."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response

from producers.gateway import dead_letters, doctors, events, jobs, probes
from producers.gateway.fhir import bulk as fhir_bulk
from producers.gateway.fhir import routes as fhir_routes
from producers.gateway.middleware import AccessLogAndMetrics, BodyLimits
from producers.gateway.problems import is_fhir_path, problem_response, problems_in_openapi
from shared.errors import SchedqError, Violation, error, validation_failed
from shared.payloads import violations_of
from shared.settings import get_settings

log = logging.getLogger("schedq.gateway")

DESCRIPTION = """\
The front door for upstream systems (EHRs, booking front ends, rosters): submit schedule jobs,
read their outcomes and doctors' availability. Every `/v1` and `/fhir` request carries
`Authorization: Bearer <token>` (an operator creates clients with `schedq clients create`).
Errors are `application/problem+json` (RFC 9457) with schedq's error `code`, `category`,
`severity` and, for invalid input, every violation with its field path.
"""


def _body_path(loc: tuple[object, ...]) -> tuple[object, ...]:
    # FastAPI prefixes where the value came from ("body", "query", "header", "path").
    return loc[1:] if loc and loc[0] == "body" else loc


def _answer(request: Request, err: SchedqError, status: int | None = None) -> Response:
    return problem_response(err, status, fhir=is_fhir_path(request.url.path))


async def _invalid_request(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return _answer(request, error("BODY_NOT_JSON"))
    cleaned = [{**e, "loc": _body_path(tuple(e.get("loc", ())))} for e in errors]
    return _answer(request, validation_failed(violations_of(cleaned)))


async def _schedq_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SchedqError)
    return _answer(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return _answer(request, error("METHOD_NOT_ALLOWED"))
    if exc.status_code == 404:
        return _answer(request, error("RESOURCE_NOT_FOUND"))
    if exc.status_code == 400:  # FastAPI could not parse the body (e.g. nested too deep)
        return _answer(request, error("BODY_NOT_JSON"))
    return _answer(request, error("INTERNAL_ERROR"), exc.status_code)


async def _data_error(request: Request, exc: Exception) -> Response:
    # PostgreSQL refused a value the shape checks let through (a NUL character, a number out
    # of range): the caller's input, so 422, and nothing of the value is echoed.
    violation = Violation("VALUE_INVALID", "$", "A value is not storable (NUL or out of range).")
    return _answer(request, validation_failed([violation]))


async def _database_error(request: Request, exc: Exception) -> Response:
    log.warning("database error: %s", type(exc).__name__)
    return _answer(request, error("NOT_READY", reason="the database is unavailable"))


def _document_problems(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems_in_openapi(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(
        title="schedq gateway",
        version="1",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.include_router(jobs.router)
    app.include_router(doctors.router)
    app.include_router(events.router)
    app.include_router(dead_letters.router)
    app.include_router(fhir_routes.router)
    app.include_router(fhir_bulk.router)
    app.include_router(probes.router)
    _document_problems(app)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(SchedqError, _schedq_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # Outermost last: metrics and the access log see every answer, 413/415 included, and
    # answer an unexpected exception with a problem (AccessLogAndMetrics).
    # Large answers (availability of many days, long job pages) go gzipped when asked for;
    # event streams never are (Starlette excludes text/event-stream).
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(BodyLimits, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(AccessLogAndMetrics)
    return app


def serve_app() -> FastAPI:
    """The factory uvicorn runs (``schedq api``): logging set up in each serving process."""
    from shared.logs import configure_logging

    configure_logging(get_settings(), "gateway")
    return create_app()
