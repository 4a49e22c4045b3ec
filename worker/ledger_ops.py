"""Ledger state transitions, each one SQL statement (the executor composes them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, exists, false, func, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import aliased

from shared.db.ledger import PENDING_STATUSES, Job
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError

# State transitions are plain Core UPDATEs on the table: the ORM's bulk-update bookkeeping
# (synchronising session objects) costs more CPU per job than the statement itself.
JOBS = cast(Table, Job.__table__)


def begin_delivery(uow: UnitOfWork, job_id: uuid.UUID) -> Row[Any] | None:
    """Mark a pending job running and count the delivery; None if it is not pending."""
    return uow.session.execute(
        update(JOBS)
        .where(Job.id == job_id, Job.status.in_(PENDING_STATUSES))
        .values(
            status="running",
            unfinished_deliveries=Job.unfinished_deliveries + 1,
            started_at=func.coalesce(Job.started_at, func.now()),
            updated_at=func.now(),
        )
        .returning(
            Job.kind,
            Job.payload,
            Job.doctor_id,
            Job.seq,
            Job.attempts,
            Job.unfinished_deliveries,
            Job.correlation_id,
            Job.submitter,
        )
    ).one_or_none()


def status_of(uow: UnitOfWork, job_id: uuid.UUID) -> str | None:
    return uow.session.scalar(select(Job.status).where(Job.id == job_id))


def lock_if_pending(uow: UnitOfWork, job_id: uuid.UUID) -> bool:
    """Row-lock the job; False when another delivery already finished it (a duplicate)."""
    status = uow.session.scalar(select(Job.status).where(Job.id == job_id).with_for_update())
    return status in PENDING_STATUSES


# Built once: a fresh aliased() per call costs more CPU than the statement it saves.
_EARLIER = aliased(Job, name="earlier")


def lock_if_pending_in_order(
    uow: UnitOfWork, job_id: uuid.UUID, key: str | None, seq: int
) -> tuple[bool, bool]:
    """Row-lock the job and, in the same round trip, look for a pending earlier job of its
    order key: (job still pending, predecessor pending). Call after ``lock_order_key``."""
    earlier = _EARLIER
    waits = (
        exists().where(
            earlier.doctor_id == key, earlier.seq < seq, earlier.status.in_(PENDING_STATUSES)
        )
        if key is not None
        else false()
    )
    row = uow.session.execute(
        select(Job.status, waits).where(Job.id == job_id).with_for_update(of=Job)
    ).one_or_none()
    return (row is not None and row[0] in PENDING_STATUSES), bool(row and row[1])


def lock_order_key(uow: UnitOfWork, key: str) -> None:
    """Serialise all work on one doctor, whether or not the doctor row exists yet."""
    uow.session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


_ERROR_COLUMNS = (
    "error_code",
    "error_category",
    "error_severity",
    "error_message",
    "error_details",
)


def _error_values(err: SchedqError) -> dict[str, Any]:
    return {
        "error_code": err.code,
        "error_category": str(err.category),
        "error_severity": str(err.severity),
        "error_message": err.message,
        "error_details": err.details or None,
    }


def finish(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: SchedqError | None = None,
    count_attempt: bool = True,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "result": result,
        "finished_at": func.now(),
        "updated_at": func.now(),
        "unfinished_deliveries": 0,
        "next_attempt_at": None,
    }
    if count_attempt:
        values["attempts"] = Job.attempts + 1
    if error is not None:
        values.update(_error_values(error))
    elif status == "succeeded":
        # Errors of earlier attempts stay in the history, not on a job that succeeded.
        values.update(dict.fromkeys(_ERROR_COLUMNS))
    uow.session.execute(update(JOBS).where(Job.id == job_id).values(**values))


def requeue(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    delay: float,
    *,
    error: SchedqError | None = None,
    count_attempt: bool = True,
) -> datetime:
    """Back to queued for a later delivery; the delivery ended normally (not a crash)."""
    next_at = datetime.now(UTC) + timedelta(seconds=delay)
    values: dict[str, Any] = {
        "status": "queued",
        "updated_at": func.now(),
        "unfinished_deliveries": 0,
        "next_attempt_at": next_at,
    }
    if count_attempt:
        values["attempts"] = Job.attempts + 1
    if error is not None:
        values.update(_error_values(error))
    uow.session.execute(update(JOBS).where(Job.id == job_id).values(**values))
    return next_at


def record_attempt(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    attempt: int,
    outcome: str,
    error: SchedqError | None,
    next_attempt_at: datetime | None = None,
) -> None:
    """One history row per attempt that did not succeed (read back by get_job and the DLQ)."""
    uow.session.add(
        JobAttempt(
            job_id=job_id,
            attempt=max(attempt, 1),
            outcome=outcome,
            error_code=error.code if error else None,
            error_category=str(error.category) if error else None,
            next_attempt_at=next_attempt_at,
        )
    )
    uow.session.flush()


def history(uow: UnitOfWork, job_id: uuid.UUID) -> list[JobAttempt]:
    return list(
        uow.session.scalars(
            select(JobAttempt).where(JobAttempt.job_id == job_id).order_by(JobAttempt.id)
        )
    )
