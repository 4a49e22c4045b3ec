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
    "VALIDATION_FAILED": Entry(Category.VALIDATION, Severity.LOW, "{summary}"),
    "CALENDAR_AUTH_REFUSED": Entry(
        Category.AUTHENTICATION,
        Severity.HIGH,
        "The calendar provider refused the credentials; an operator must fix the credential.",
    ),
    "CALENDAR_BAD_RESPONSE": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider answered with something that is not a valid calendar response.",
    ),
    "CALENDAR_CREDENTIAL_MISSING": Entry(
        Category.AUTHENTICATION,
        Severity.HIGH,
        "The credential this calendar link names is not registered; an operator registers it"
        " with 'schedq credentials add'.",
    ),
    "CALENDAR_CREDENTIAL_NOT_BOUND": Entry(
        Category.AUTHORIZATION,
        Severity.HIGH,
        "The credential this calendar link names is registered for another doctor or another"
        " server; nothing was contacted.",
    ),
    "CALENDAR_EDIT_RACE": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.LOW,
        "The exported event kept changing remotely; the publish will be retried.",
        retryable=True,
    ),
    "CALENDAR_FORBIDDEN": Entry(
        Category.AUTHORIZATION,
        Severity.HIGH,
        "The calendar provider does not allow this access; an operator must grant it.",
    ),
    "CALENDAR_NOT_FOUND": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The linked calendar does not exist at the provider.",
    ),
    "CALENDAR_PROVIDER_CIRCUIT_OPEN": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider failed repeatedly; the sync waits before trying again.",
        retryable=True,
    ),
    "CALENDAR_PROVIDER_ERROR": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider is unavailable or busy; the job will be retried.",
        retryable=True,
    ),
    "CALENDAR_RATE_LIMITED": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider asked us to slow down; the job will be retried.",
        retryable=True,
    ),
    "CALENDAR_REQUEST_REFUSED": Entry(
        Category.EXTERNAL_SERVICE, Severity.MEDIUM, "The calendar provider refused the request."
    ),
    "CALENDAR_RESPONSE_TOO_LARGE": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider's answer is larger than the {limit_bytes}-byte limit.",
    ),
    "CALENDAR_TARGET_REFUSED": Entry(
        Category.VALIDATION,
        Severity.MEDIUM,
        "This calendar address is not allowed.",
    ),
    "CALENDAR_TIMEOUT": Entry(
        Category.TIMEOUT,
        Severity.MEDIUM,
        "The calendar provider did not answer in time; the job will be retried.",
        retryable=True,
    ),
    "CALENDAR_TOO_MANY_REDIRECTS": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider redirected more than {limit} times.",
    ),
    "CALENDAR_UNREACHABLE": Entry(
        Category.NETWORK,
        Severity.MEDIUM,
        "The calendar provider could not be reached; the job will be retried.",
        retryable=True,
    ),
    "ENCRYPTION_KEY_MISSING": Entry(
        Category.SYSTEM,
        Severity.CRITICAL,
        "No encryption key is configured (SCHEDQ_ENCRYPTION_KEYS); an operator must set one.",
    ),
    "ENCRYPTION_KEY_UNKNOWN": Entry(
        Category.SYSTEM,
        Severity.CRITICAL,
        "Stored data was encrypted with a key that is no longer configured.",
    ),
    "IDEMPOTENCY_CONFLICT": Entry(
        Category.BUSINESS_LOGIC,
        Severity.MEDIUM,
        "This idempotency key was already used for a different request.",
    ),
    "ICS_EVENT_WITHOUT_UID": Entry(Category.VALIDATION, Severity.MEDIUM, "{where} has no UID."),
    "ICS_MALFORMED": Entry(Category.VALIDATION, Severity.MEDIUM, "{problem}"),
    "ICS_NOT_A_CALENDAR": Entry(
        Category.VALIDATION, Severity.MEDIUM, "The content is not an iCalendar (no VCALENDAR)."
    ),
    "ICS_TOO_MANY_INSTANCES": Entry(
        Category.VALIDATION,
        Severity.MEDIUM,
        "The calendar has more busy time than one link may hold ({problem}); nothing was applied.",
    ),
    "UNKNOWN_JOB_KIND": Entry(
        Category.VALIDATION, Severity.LOW, "'{kind}' is not a job kind schedq knows."
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
