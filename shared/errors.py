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
    never names hosts, SQL, stack traces or patient data. ``category`` None means the error
    inherits the category of the error that caused it (given to :func:`error`).
    """

    category: Category | None
    severity: Severity
    message: str
    retryable: bool = False


# THE catalogue: every error code schedq reports, in one table (docs/errors.md lists them and
# tests/unit/test_error_catalogue.py keeps the two equal). Codes are a public interface: add,
# never rename. Keep the keys in alphabetical order (fewer merge conflicts).
CATALOGUE: dict[str, Entry] = {
    "APPOINTMENT_NOT_ACTIVE": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "The appointment is already {status}."
    ),
    "APPOINTMENT_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No appointment with id '{ident}' exists."
    ),
    "BATCH_TOO_LARGE": Entry(
        Category.VALIDATION,
        Severity.LOW,
        "A batch holds at most {limit} jobs; split it and submit the parts.",
    ),
    "BOOKED_APPOINTMENTS_CONFLICT": Entry(
        Category.BUSINESS_LOGIC,
        Severity.LOW,
        "The change would leave {count} booked appointment(s) without room; nothing was "
        "applied. Resubmit with on_conflict 'flag' or 'force' to apply it anyway.",
    ),
    "CACHE_ERROR": Entry(Category.SYSTEM, Severity.HIGH, "A shared service refused the request."),
    "CACHE_UNAVAILABLE": Entry(
        Category.NETWORK,
        Severity.MEDIUM,
        "A shared service is briefly unavailable; the job will be retried.",
        True,
    ),
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
        "The credential this calendar link names is not registered; an operator registers it "
        "with 'schedq credentials add'.",
    ),
    "CALENDAR_CREDENTIAL_NOT_BOUND": Entry(
        Category.AUTHORIZATION,
        Severity.HIGH,
        "The credential this calendar link names is registered for another doctor or another "
        "server; nothing was contacted.",
    ),
    "CALENDAR_EDIT_RACE": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.LOW,
        "The exported event kept changing remotely; the publish will be retried.",
        True,
    ),
    "CALENDAR_FORBIDDEN": Entry(
        Category.AUTHORIZATION,
        Severity.HIGH,
        "The calendar provider does not allow this access; an operator must grant it.",
    ),
    "CALENDAR_LINK_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No calendar link with id '{ident}' exists."
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
        True,
    ),
    "CALENDAR_PROVIDER_ERROR": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider is unavailable or busy; the job will be retried.",
        True,
    ),
    "CALENDAR_RATE_LIMITED": Entry(
        Category.EXTERNAL_SERVICE,
        Severity.MEDIUM,
        "The calendar provider asked us to slow down; the job will be retried.",
        True,
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
        Category.VALIDATION, Severity.MEDIUM, "This calendar address is not allowed."
    ),
    "CALENDAR_TIMEOUT": Entry(
        Category.TIMEOUT,
        Severity.MEDIUM,
        "The calendar provider did not answer in time; the job will be retried.",
        True,
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
        True,
    ),
    "CONSTRAINT_VIOLATED": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "The change breaks a scheduling rule."
    ),
    "DATABASE_BUSY": Entry(
        Category.DATABASE,
        Severity.MEDIUM,
        "The schedule database is busy; the job will be retried.",
        True,
    ),
    "DATABASE_ERROR": Entry(
        Category.DATABASE, Severity.HIGH, "The schedule database refused the change."
    ),
    "DATABASE_UNAVAILABLE": Entry(
        Category.DATABASE,
        Severity.HIGH,
        "The schedule database is briefly unavailable; jobs are retried, queries can be asked "
        "again in a moment.",
        True,
    ),
    "DEAD_LETTER_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No dead letter with id '{ident}' exists."
    ),
    "DLQ_BAD_INPUT": Entry(Category.VALIDATION, Severity.LOW, "{problem}"),
    "DOCTOR_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No doctor with id '{ident}' exists."
    ),
    "DUPLICATE": Entry(Category.BUSINESS_LOGIC, Severity.LOW, "This record already exists."),
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
    "EXCEPTION_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No schedule exception with id '{ident}' exists."
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
    "IDEMPOTENCY_CONFLICT": Entry(
        Category.BUSINESS_LOGIC,
        Severity.MEDIUM,
        "This idempotency key was already used for a different request.",
    ),
    "JOB_NOT_FOUND": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "No job with id '{ident}' exists."
    ),
    "JOB_TIMEOUT": Entry(
        Category.TIMEOUT, Severity.MEDIUM, "The job took too long; the job will be retried.", True
    ),
    "NETWORK_ERROR": Entry(
        Category.NETWORK, Severity.MEDIUM, "A network call failed; the job will be retried.", True
    ),
    "PAYLOAD_TOO_LARGE": Entry(
        Category.VALIDATION,
        Severity.LOW,
        "The payload is larger than the {limit_bytes}-byte limit; nothing was stored.",
    ),
    "PAYLOAD_UNREADABLE": Entry(
        Category.VALIDATION, Severity.LOW, "Could not read a JSON payload: {reason}"
    ),
    "POISON_BAD_ARGUMENTS": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_CONTENT_TYPE_REFUSED": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_MALFORMED_MESSAGE": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_MESSAGE_TOO_LARGE": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_UNKNOWN_JOB": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_UNKNOWN_MESSAGE_FORMAT": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_UNKNOWN_TASK": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "POISON_UNREADABLE_ENVELOPE": Entry(
        Category.VALIDATION,
        Severity.HIGH,
        "A malformed message for this job was refused; an operator can replay the job.",
    ),
    "REFERENCE_MISSING": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "The job refers to something that does not exist."
    ),
    "RETRIES_EXHAUSTED": Entry(
        None,
        Severity.HIGH,
        "The job kept failing for a temporary reason and was set aside for an operator.",
    ),
    "SCHEDULE_CONFLICT": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "The requested time overlaps an existing booking."
    ),
    "UNEXPECTED_ERROR": Entry(
        Category.SYSTEM,
        Severity.CRITICAL,
        "The job failed unexpectedly and was set aside for an operator.",
    ),
    "UNKNOWN_JOB": Entry(
        Category.VALIDATION,
        Severity.MEDIUM,
        "A message named a job the ledger does not know; it was dropped.",
    ),
    "UNKNOWN_JOB_KIND": Entry(
        Category.VALIDATION, Severity.LOW, "'{kind}' is not a job kind schedq knows."
    ),
    "VALIDATION_FAILED": Entry(Category.VALIDATION, Severity.LOW, "{summary}"),
    "VALUE_TOO_LONG": Entry(
        Category.BUSINESS_LOGIC, Severity.LOW, "A value is longer than the schedule can store."
    ),
    "WORKER_CRASH_LOOP": Entry(
        Category.SYSTEM,
        Severity.CRITICAL,
        "The job stopped its worker several times and was set aside for an operator.",
    ),
    "WORKER_LOST": Entry(
        Category.SYSTEM,
        Severity.HIGH,
        "The worker running the job stopped before it finished; the job was delivered again.",
    ),
}

# not_found(what, ident): the entity word -> its code (explicit, so every code is in the table).
NOT_FOUND = {
    "appointment": "APPOINTMENT_NOT_FOUND",
    "calendar_link": "CALENDAR_LINK_NOT_FOUND",
    "dead_letter": "DEAD_LETTER_NOT_FOUND",
    "doctor": "DOCTOR_NOT_FOUND",
    "exception": "EXCEPTION_NOT_FOUND",  # a schedule closure; the public code keeps its word
    "job": "JOB_NOT_FOUND",
}


def error(
    code: str,
    *,
    details: dict[str, Any] | None = None,
    retry_after: float | None = None,
    category: Category | None = None,
    **fields: Any,
) -> SchedqError:
    """The error for ``code`` from the catalogue, its message filled from ``fields``.

    ``category`` is given only for an entry without one (it inherits its cause's category).
    """
    entry = CATALOGUE[code]
    if (entry.category is None) == (category is None):
        raise ValueError(f"{code}: give a category exactly when the catalogue has none")
    return SchedqError(
        code=code,
        message=entry.message.format(**fields),
        category=entry.category or category or Category.SYSTEM,
        severity=entry.severity,
        retryable=entry.retryable,
        details=details or {},
        retry_after=retry_after,
    )


# An error is stored on the job row and printed by the CLI: 290,000 broken shifts once made a
# 31 MB error. The first violations show what to fix; the count says how much more there is.
MAX_VIOLATIONS = 50


def violation_details(violations: list[Violation]) -> dict[str, Any]:
    """``violations`` (the first :data:`MAX_VIOLATIONS`) and ``violation_count`` (all)."""
    return {
        "violations": [v.as_dict() for v in violations[:MAX_VIOLATIONS]],
        "violation_count": len(violations),
    }


def validation_failed(violations: list[Violation]) -> SchedqError:
    """All violations of one job reported together (up to a cap), so a producer can fix them
    in one go."""
    count = len(violations)
    first = violations[0].message if violations else "invalid input"
    message = first if count == 1 else f"{count} problems found; first: {first}"
    return error("VALIDATION_FAILED", summary=message, details=violation_details(violations))


def idempotency_conflict(key: str) -> SchedqError:
    return error("IDEMPOTENCY_CONFLICT", details={"idempotency_key": key})


def unknown_kind(kind: str) -> SchedqError:
    return error("UNKNOWN_JOB_KIND", kind=kind[:64])


def not_found(what: str, ident: str) -> SchedqError:
    return error(NOT_FOUND[what], ident=ident[:64])
