"""Errors as ``application/problem+json`` (RFC 9457), built from the error catalogue.

The body carries the catalogue's ``code``, ``category``, ``severity`` and ``retryable`` and, for
validation errors, every violation with its field path. Messages come from the catalogue
templates, which never hold internals or patient data.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse

from shared.errors import Category, SchedqError

PROBLEM_JSON = "application/problem+json"

_STATUS_BY_CODE = {
    "AUTH_INVALID": 401,
    "AUTH_REQUIRED": 401,
    "BODY_NOT_JSON": 400,
    "BODY_TOO_LARGE": 413,
    "DATABASE_UNAVAILABLE": 503,
    "FORBIDDEN_ROLE": 403,
    "FORBIDDEN_SCOPE": 403,
    "IDEMPOTENCY_CONFLICT": 409,
    "INTERNAL_ERROR": 500,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_READY": 503,
    "RATE_LIMITED": 429,
    "RESOURCE_NOT_FOUND": 404,
    "UNKNOWN_JOB_KIND": 422,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "VALIDATION_FAILED": 422,
}
_STATUS_BY_CATEGORY = {
    Category.VALIDATION: 422,
    Category.AUTHENTICATION: 401,
    Category.AUTHORIZATION: 403,
    Category.BUSINESS_LOGIC: 409,
    Category.DATABASE: 503,
    Category.EXTERNAL_SERVICE: 503,
    Category.NETWORK: 503,
    Category.TIMEOUT: 503,
    Category.SYSTEM: 500,
}


class ProblemViolation(BaseModel):
    code: str
    path: str
    message: str


class Problem(BaseModel):
    """The error document of every 4xx/5xx answer (documented in the OpenAPI schema)."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    category: str
    severity: str
    retryable: bool
    errors: list[ProblemViolation] = []
    # A batch names the first request (0-based) that failed.
    index: int | None = None


def status_of(err: SchedqError) -> int:
    if err.code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[err.code]
    if err.code.endswith("_NOT_FOUND"):
        return 404
    return _STATUS_BY_CATEGORY.get(Category(err.category), 500)


def problem_body(err: SchedqError, status: int | None = None) -> dict[str, Any]:
    status = status or status_of(err)
    body: dict[str, Any] = {
        "type": f"urn:schedq:error:{err.code}",
        "title": err.code.replace("_", " ").capitalize(),
        "status": status,
        "detail": err.message,
        "code": err.code,
        "category": str(err.category),
        "severity": str(err.severity),
        "retryable": err.retryable,
        "errors": list(err.details.get("violations", [])),
    }
    if "index" in err.details:
        body["index"] = err.details["index"]
    return body


def problem_response(err: SchedqError, status: int | None = None) -> JSONResponse:
    status = status or status_of(err)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="schedq"'
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    return JSONResponse(
        problem_body(err, status), status_code=status, headers=headers, media_type=PROBLEM_JSON
    )


# For the OpenAPI document: the statuses an operation may answer with a problem.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "description": "A problem (RFC 9457)."} for s in statuses}


def problems_in_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx answer as ``application/problem+json`` of the Problem schema.

    FastAPI documents error models as ``application/json`` and adds its own 422 shape; the
    gateway sends neither, so the document says what is served.
    """
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    answer["content"] = {PROBLEM_JSON: ref}
                    answer.setdefault("description", "A problem (RFC 9457).")
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
