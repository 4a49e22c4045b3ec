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


def validation_failed(violations: list[Violation]) -> SchedqError:
    """All violations of one job reported together, so a producer can fix them in one go."""
    count = len(violations)
    first = violations[0].message if violations else "invalid input"
    message = first if count == 1 else f"{count} problems found; first: {first}"
    return SchedqError(
        code="VALIDATION_FAILED",
        message=message,
        category=Category.VALIDATION,
        severity=Severity.LOW,
        details={"violations": [v.as_dict() for v in violations]},
    )


def idempotency_conflict(key: str) -> SchedqError:
    return SchedqError(
        code="IDEMPOTENCY_CONFLICT",
        message="This idempotency key was already used for a different request.",
        category=Category.BUSINESS_LOGIC,
        severity=Severity.MEDIUM,
        details={"idempotency_key": key},
    )


def unknown_kind(kind: str) -> SchedqError:
    return SchedqError(
        code="UNKNOWN_JOB_KIND",
        message=f"'{kind[:64]}' is not a job kind schedq knows.",
        category=Category.VALIDATION,
        severity=Severity.LOW,
    )


def not_found(what: str, ident: str) -> SchedqError:
    return SchedqError(
        code=f"{what.upper()}_NOT_FOUND",
        message=f"No {what} with id '{ident[:64]}' exists.",
        category=Category.BUSINESS_LOGIC,
        severity=Severity.LOW,
    )
