"""What a service knows about the job it applies: ids for audit and logs, never ORM objects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class JobContext:
    job_id: uuid.UUID
    kind: str
    correlation_id: str
    submitter: str
    attempt: int
