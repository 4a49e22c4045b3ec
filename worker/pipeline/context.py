"""What a service knows about the job it applies, and the typed outcome it hands back.

``JobContext`` carries ids for audit and logs, never ORM objects. ``Applied`` is what a handler
returns: the JSON result stored on the job (producers read it) plus typed figures that the
executor's ``Decision`` carries to the metrics hooks, so no hook reads meaning from result keys.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from typing import Any, Literal

from shared.errors import SchedqError

# How conflicts with booked appointments were settled: the job's ``on_conflict`` (reject, flag,
# force), or "report" for calendar imports, which list conflicts and never resolve them.
ConflictStrategy = Literal["reject", "flag", "force", "report"]


@dataclass(frozen=True)
class JobContext:
    job_id: uuid.UUID
    kind: str
    correlation_id: str
    submitter: str
    attempt: int


@dataclass(frozen=True)
class Conflicts:
    """Booked appointments a job collided with, and the strategy that settled them."""

    count: int
    strategy: ConflictStrategy


@dataclass(frozen=True)
class CalendarEvents:
    """Calendar events a job wrote, by direction."""

    imported: int = 0
    exported: int = 0
    deleted: int = 0


@dataclass(frozen=True)
class Applied:
    """A handler's outcome: the job's stored result and what metrics count from it."""

    result: dict[str, Any]
    conflicts: Conflicts | None = None
    events: CalendarEvents | None = None


def settled(count: int, strategy: ConflictStrategy) -> Conflicts | None:
    """The conflicts figure of a job, or None when it met none."""
    return Conflicts(count, strategy) if count else None


@dataclass
class Refusal(SchedqError):
    """A refusing error that still reports a typed figure: conflicts under ``reject``.

    It is a ``SchedqError`` (same code, message and details on the job); the executor copies
    ``conflicts`` onto its ``Decision`` so the hooks need not look inside the error.
    """

    conflicts: Conflicts | None = None

    @classmethod
    def of(cls, err: SchedqError, conflicts: Conflicts | None) -> Refusal:
        base = {f.name: getattr(err, f.name) for f in fields(SchedqError)}
        return cls(**base, conflicts=conflicts)
