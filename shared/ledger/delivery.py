"""Ledger state transitions, each one SQL statement (the executor composes them).

The statements every delivery runs are plain SQL sent through the session's connection
(``UnitOfWork.sql``): building, cache-keying and compiling a SQLAlchemy construct costs several
times the CPU of the round trip itself, and these run a few times per job (``python -m
bench.micro`` shows the effect). Rare paths (attempt history) stay on the ORM.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import select
from sqlalchemy.engine import Row

from shared.db.jobs import PENDING_STATUSES
from shared.db.reliability import JobAttempt
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError

# Built from the model's constant (fixed strings, not input), so the SQL cannot drift from it.
_PENDING = "status IN (" + ", ".join(f"'{s}'" for s in PENDING_STATUSES) + ")"

_BEGIN_DELIVERY = f"""
UPDATE jobs SET status = 'running',
                unfinished_deliveries = greatest(unfinished_deliveries + 1 - %(ended)s, 1),
                started_at = coalesce(started_at, now()),
                updated_at = now()
 WHERE id = %(id)s AND {_PENDING}
RETURNING kind, payload, order_key, seq, attempts, unfinished_deliveries, correlation_id,
          submitter, created_at,
          -- this transaction commits asynchronously (see begin_delivery); set here, not in a
          -- statement of its own, to save a round trip on every delivery
          set_config('synchronous_commit', 'off', true) AS commit_mode
"""


def begin_delivery(
    uow: UnitOfWork, job_id: uuid.UUID, previous_ended: bool = False
) -> Row[Any] | None:
    """Mark a pending job running and count the delivery; None if it is not pending.

    ``previous_ended``: the delivery before this one ended in a live worker that could not
    record it (database unavailable), so it is uncounted here instead of being taken for a
    worker death (never below this delivery's own 1).

    The transaction that does this commits asynchronously (no wait for the WAL flush, which is
    most of a commit's time here): it only feeds the crash-loop count and the "running" status.
    A dying *worker* cannot lose it (PostgreSQL flushes it within ``wal_writer_delay``); only a
    PostgreSQL crash in that window can, and then the job is simply delivered again with a count
    one lower. The job's outcome is always committed synchronously.
    """
    return uow.sql(_BEGIN_DELIVERY, {"id": job_id, "ended": int(previous_ended)}).one_or_none()


def status_of(uow: UnitOfWork, job_id: uuid.UUID) -> str | None:
    return uow.sql("SELECT status FROM jobs WHERE id = %(id)s", {"id": job_id}).scalar()


def lock_if_pending(uow: UnitOfWork, job_id: uuid.UUID) -> bool:
    """Row-lock the job; False when another delivery already finished it (a duplicate)."""
    status = uow.sql("SELECT status FROM jobs WHERE id = %(id)s FOR UPDATE", {"id": job_id})
    return status.scalar() in PENDING_STATUSES


# One round trip: the job's own row lock and whether an earlier job of its order key is pending.
# The job's status and, for its order key, the pending earlier jobs: none (NULL); all of them
# claimed by a delivery or due now, so about to reach the doctor's lock ('due'); or some waiting
# for a later time, a retry's backoff or an order wait ('later').
_LOCK_IN_ORDER = f"""
SELECT j.status,
       (SELECT CASE WHEN count(*) = 0 THEN NULL
                    WHEN bool_and(earlier.status = 'running'
                                  OR earlier.next_attempt_at IS NULL
                                  OR earlier.next_attempt_at <= clock_timestamp()) THEN 'due'
                    ELSE 'later' END
          FROM jobs AS earlier
         WHERE %(key)s::text IS NOT NULL AND earlier.order_key = %(key)s
           AND earlier.seq < %(seq)s AND earlier.{_PENDING})
  FROM jobs AS j WHERE j.id = %(id)s FOR UPDATE OF j
"""


def lock_if_pending_in_order(
    uow: UnitOfWork, job_id: uuid.UUID, key: str | None, seq: int
) -> tuple[bool, str | None]:
    """Row-lock the job and, in the same round trip, look for pending earlier jobs of its
    order key: (job still pending, ``None`` / ``"due"`` / ``"later"``: no predecessor pending,
    every pending one claimed or due now, some waiting for a later time). Call after
    ``lock_order_key``."""
    row = uow.sql(_LOCK_IN_ORDER, {"id": job_id, "key": key, "seq": seq}).one_or_none()
    if row is None:
        return False, None
    status, waits = tuple(row)
    return status in PENDING_STATUSES, waits


def lock_order_key(uow: UnitOfWork, key: str) -> None:
    """Serialise all work on one doctor, whether or not the doctor row exists yet."""
    uow.sql("SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))", {"key": key})


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
        "error_details": Jsonb(err.details) if err.details else None,
    }


def _update_job(uow: UnitOfWork, job_id: uuid.UUID, values: dict[str, Any], sets: str) -> None:
    """``UPDATE jobs SET <sets>, <col> = %(col)s for each value``: the SET list is built from
    fixed column names in this module, never from input."""
    assigned = ", ".join(f"{col} = %({col})s" for col in values)
    uow.sql(f"UPDATE jobs SET {sets}, {assigned} WHERE id = %(id)s", {**values, "id": job_id})


def finish(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: SchedqError | None = None,
    count_attempt: bool = True,
) -> None:
    values: dict[str, Any] = {"status": status, "result": None if result is None else Jsonb(result)}
    if error is not None:
        values.update(_error_values(error))
    elif status == "succeeded":
        # Errors of earlier attempts stay in the history, not on a job that succeeded.
        values.update(dict.fromkeys(_ERROR_COLUMNS))
    # clock_timestamp(), not now(): now() is when the transaction began, before it waited for
    # the doctor's lock, so a job that waited minutes would be recorded as taking milliseconds.
    sets = "finished_at = clock_timestamp(), updated_at = clock_timestamp()"
    sets += ", unfinished_deliveries = 0"
    sets += ", next_attempt_at = NULL"
    if count_attempt:
        sets += ", attempts = attempts + 1"
    _update_job(uow, job_id, values, sets)


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
    values: dict[str, Any] = {"status": "queued", "next_attempt_at": next_at}
    if error is not None:
        values.update(_error_values(error))
    sets = "updated_at = clock_timestamp(), unfinished_deliveries = 0"
    if count_attempt:
        sets += ", attempts = attempts + 1"
    _update_job(uow, job_id, values, sets)
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
