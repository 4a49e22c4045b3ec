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
FHIR_JSON = "application/fhir+json"

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


def status_for(code: str, category: str) -> int:
    if code in _STATUS_BY_CODE:
        return _STATUS_BY_CODE[code]
    if code.endswith("_NOT_FOUND"):
        return 404
    known = category in Category.__members__
    return _STATUS_BY_CATEGORY.get(Category(category), 500) if known else 500


def status_of(err: SchedqError) -> int:
    return status_for(err.code, str(err.category))


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


_ISSUE_BY_CATEGORY = {
    Category.VALIDATION: "invalid",
    Category.AUTHENTICATION: "login",
    Category.AUTHORIZATION: "forbidden",
    Category.BUSINESS_LOGIC: "conflict",
}
_ISSUE_BY_STATUS = {404: "not-found", 413: "too-costly", 429: "throttled", 503: "transient"}


def operation_outcome(err: SchedqError, status: int | None = None) -> dict[str, Any]:
    """The FHIR R4 OperationOutcome of an error: one issue per violation, the code in details."""
    return outcome_of(
        err.code, str(err.category), err.message, err.details, status or status_of(err)
    )


def outcome_of(
    code: str, category: str, message: str, details: dict[str, Any], status: int
) -> dict[str, Any]:
    """An OperationOutcome from an error's fields (also a job's stored error)."""
    known = category in Category.__members__
    kind = _ISSUE_BY_STATUS.get(status) or (
        _ISSUE_BY_CATEGORY.get(Category(category)) if known else None
    )
    severity = "fatal" if status >= 500 else "error"
    coding = {"system": "urn:schedq:error", "code": code}
    violations = details.get("violations") or [None]
    issues = []
    for v in violations:
        issue: dict[str, Any] = {
            "severity": severity,
            "code": kind or "exception",
            "details": {"coding": [coding], "text": v["message"] if v else message},
        }
        if v:
            issue["diagnostics"] = v["code"]
            if v["path"] != "$":
                issue["expression"] = [v["path"]]
        issues.append(issue)
    return {"resourceType": "OperationOutcome", "issue": issues}


def problem_response(
    err: SchedqError, status: int | None = None, *, fhir: bool = False
) -> JSONResponse:
    """The error as problem+json, or as an OperationOutcome for the FHIR API."""
    status = status or status_of(err)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="schedq"'
    if err.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(err.retry_after)))
    if fhir:
        body, media = operation_outcome(err, status), FHIR_JSON
    else:
        body, media = problem_body(err, status), PROBLEM_JSON
    return JSONResponse(body, status_code=status, headers=headers, media_type=media)


def is_fhir_path(path: str) -> bool:
    return path.startswith("/fhir/")


# For the OpenAPI document: the statuses an operation may answer with a problem.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "description": "A problem (RFC 9457)."} for s in statuses}


def problems_in_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """Every 4xx/5xx answer as ``application/problem+json`` of the Problem schema.

    FastAPI documents error models as ``application/json`` and adds its own 422 shape; the
    gateway sends neither, so the document says what is served.
    """
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    outcome = {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status[:1] in ("4", "5"):
                    answer["content"] = outcome if is_fhir_path(path) else problem
                    answer.setdefault("description", "A problem (RFC 9457).")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["OperationOutcome"] = {
        "type": "object",
        "description": "FHIR R4 OperationOutcome; schedq's error code in issue.details.coding.",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
            "issue": {"type": "array", "minItems": 1, "items": {"type": "object"}},
        },
    }
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
