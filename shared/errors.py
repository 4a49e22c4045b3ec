"""The error model: every failure a job can meet, as data a producer and an operator can read.

An error has a stable ``code``, a ``category`` and ``severity``, a user-friendly ``message``
(never SQL, stack traces or host names) and whether retrying may help. Domain code raises these;
the task base maps anything else to one of them in a single table (``worker.pipeline.error_map``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Category(StrEnum):
    VALIDATION = "VALIDATION"
    AUTHENTICATION = "AUTHENTICATION"
    AUTHORIZATION = "AUTHORIZATION"
    DATABASE = "DATABASE"
    BUSINESS_LOGIC = "BUSINESS_LOGIC"
    EXTERNAL_SERVICE = "EXTERNAL_SERVICE"
    SYSTEM = "SYSTEM"
    NETWORK = "NETWORK"
    TIMEOUT = "TIMEOUT"


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code, the path of the offending field, a plain message."""

    code: str
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class SchedqError(Exception):
    code: str
    message: str
    category: Category = Category.SYSTEM
    severity: Severity = Severity.MEDIUM
    retryable: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    # Seconds the caller asked us to wait (HTTP Retry-After); None means "use the backoff".
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "category": str(self.category),
            "severity": str(self.severity),
            "message": self.message,
            "retryable": self.retryable,
            "details": self.details,
        }


@dataclass(frozen=True)
class Entry:
    """One code of the catalogue: what kind of failure it is and what a person is told.

    ``message`` is a ``str.format`` template filled from :func:`error`'s keyword arguments; it
    never names hosts, SQL, stack traces or patient data.
    """

    category: Category
    severity: Severity
    message: str
    retryable: bool = False


# THE catalogue: every error code schedq reports, in one table (docs/errors.md lists them and
# tests/unit/test_error_catalogue.py keeps the two equal). Codes are a public interface: add,
# never rename.
CATALOGUE: dict[str, Entry] = {
    "API_CLIENT_EXISTS": Entry(
        Category.VALIDATION, Severity.LOW, "An API client named '{name}' exists already."
    ),
    "API_CLIENT_NOT_FOUND": Entry(
        Category.VALIDATION, Severity.LOW, "No API client named '{name}' exists."
    ),
    "AUTH_INVALID": Entry(
        Category.AUTHENTICATION, Severity.MEDIUM, "The API token is not valid or was revoked."
    ),
    "AUTH_REQUIRED": Entry(
        Category.AUTHENTICATION,
        Severity.LOW,
        "This endpoint needs an API token: send 'Authorization: Bearer <token>'.",
    ),
    "BODY_NOT_JSON": Entry(
        Category.VALIDATION, Severity.LOW, "The request body is not valid JSON."
    ),
    "BODY_TOO_LARGE": Entry(
        Category.VALIDATION, Severity.LOW, "The request body is over the limit of {limit} bytes."
    ),
    "FORBIDDEN_ROLE": Entry(
        Category.AUTHORIZATION, Severity.MEDIUM, "The role '{role}' may not use this endpoint."
    ),
    "FORBIDDEN_SCOPE": Entry(
        Category.AUTHORIZATION, Severity.MEDIUM, "This request is outside the client's scope."
    ),
    "VALIDATION_FAILED": Entry(Category.VALIDATION, Severity.LOW, "{summary}"),
    "IDEMPOTENCY_CONFLICT": Entry(
        Category.BUSINESS_LOGIC,
        Severity.MEDIUM,
        "This idempotency key was already used for a different request.",
    ),
    "INTERNAL_ERROR": Entry(
        Category.SYSTEM, Severity.HIGH, "Something went wrong on our side; it was logged."
    ),
    "METHOD_NOT_ALLOWED": Entry(
        Category.VALIDATION, Severity.LOW, "This method is not allowed on this resource."
    ),
    "NOT_READY": Entry(
        Category.SYSTEM,
        Severity.HIGH,
        "The service cannot serve requests yet: {reason}.",
        retryable=True,
    ),
    "RATE_LIMITED": Entry(
        Category.VALIDATION,
        Severity.LOW,
        "Too many requests; retry after {seconds} seconds.",
        retryable=True,
    ),
    "RESOURCE_NOT_FOUND": Entry(Category.VALIDATION, Severity.LOW, "No such resource."),
    "UNKNOWN_JOB_KIND": Entry(
        Category.VALIDATION, Severity.LOW, "'{kind}' is not a job kind schedq knows."
    ),
    "UNSUPPORTED_MEDIA_TYPE": Entry(
        Category.VALIDATION, Severity.LOW, "The request body must be sent as {expected}."
    ),
}


def error(
    code: str,
    *,
    details: dict[str, Any] | None = None,
    retry_after: float | None = None,
    **fields: Any,
) -> SchedqError:
    """The error for ``code`` from the catalogue, its message filled from ``fields``."""
    entry = CATALOGUE[code]
    return SchedqError(
        code=code,
        message=entry.message.format(**fields),
        category=entry.category,
        severity=entry.severity,
        retryable=entry.retryable,
        details=details or {},
        retry_after=retry_after,
    )


def validation_failed(violations: list[Violation]) -> SchedqError:
    """All violations of one job reported together, so a producer can fix them in one go."""
    count = len(violations)
    first = violations[0].message if violations else "invalid input"
    message = first if count == 1 else f"{count} problems found; first: {first}"
    return error(
        "VALIDATION_FAILED",
        summary=message,
        details={"violations": [v.as_dict() for v in violations]},
    )


def idempotency_conflict(key: str) -> SchedqError:
    return error("IDEMPOTENCY_CONFLICT", details={"idempotency_key": key})


def unknown_kind(kind: str) -> SchedqError:
    return error("UNKNOWN_JOB_KIND", kind=kind[:64])


def not_found(what: str, ident: str) -> SchedqError:
    return SchedqError(
        code=f"{what.upper()}_NOT_FOUND",
        message=f"No {what} with id '{ident[:64]}' exists.",
        category=Category.BUSINESS_LOGIC,
        severity=Severity.LOW,
    )
