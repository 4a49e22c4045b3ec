"""Run one delivery of one job: the service layer between a Celery task and the handlers.

Per delivery:
1. ``begin_delivery`` (own short commit): the job becomes running and its delivery counter
   moves. A job whose deliveries keep dying with their worker is quarantined here.
2. The work transaction: take the doctor's advisory lock, wait (retry) while an earlier job of
   the same doctor is pending (per-doctor submission order), re-check the job is still pending
   (a duplicate delivery is a no-op), call the handler, mark the job succeeded, commit once.
3. On an error: rollback, then record rejected / retry / dead in a fresh transaction.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from shared.db.uow import UnitOfWork
from shared.errors import Category, SchedqError, error, unknown_kind
from shared.kinds import KINDS
from shared.ledger import delivery as ledger_ops
from shared.patient_data import unseal_payload
from shared.payloads import parse_payload
from shared.settings import Settings
from worker.pipeline import ordering, services  # noqa: F401  (services: handler bindings)
from worker.pipeline.context import CalendarEvents, Conflicts, JobContext, Refusal
from worker.pipeline.error_map import classify
from worker.pipeline.handlers import handler_for
from worker.reliability import dead_letters

log = logging.getLogger("schedq.executor")

Action = Literal["succeeded", "rejected", "dead", "retry", "wait", "noop"]


@dataclass(frozen=True)
class Decision:
    """What one delivery came to, in the terms the task adapter and the metrics hooks read.

    The job's JSON result is stored on the job, not here: hooks count typed figures only.
    """

    action: Action
    countdown: float | None = None
    # Why the job is retried, rejected or dead (None when it succeeded).
    error: SchedqError | None = None
    kind: str | None = None
    # Booked appointments the job collided with and the strategy that settled them: from the
    # handler's ``Applied`` (succeeded) or a ``Refusal`` (rejected under ``reject``).
    conflicts: Conflicts | None = None
    # Calendar events the job wrote, by direction (succeeded calendar jobs).
    events: CalendarEvents | None = None
    # Submit to commit of the final status, in seconds (succeeded, rejected, dead only).
    latency: float | None = None


def backoff(settings: Settings, attempt: int, retry_after: float | None = None) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^(attempt-1))].

    A provider's Retry-After wins when it is longer, but never beyond the cap (the cap is
    checked at startup to stay below the broker's visibility timeout). Celery's own helper
    is not used because it only accepts whole seconds.
    """
    ceiling = min(
        settings.retry_backoff_cap, settings.retry_backoff_base * 2 ** max(attempt - 1, 0)
    )
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.retry_backoff_cap))
    return delay


_CRASH_LOOP = error("WORKER_CRASH_LOOP")
_WORKER_LOST = error("WORKER_LOST")


def run_delivery(job_id: uuid.UUID, settings: Settings, previous_ended: bool = False) -> Decision:
    """``previous_ended``: the task adapter knows the previous delivery ended without its
    outcome recorded (database down), so that delivery is no worker death."""
    with UnitOfWork() as uow:
        row = ledger_ops.begin_delivery(uow, job_id, previous_ended)
        if row is None:
            # Terminal already (a redelivery or replay of a finished job) or unknown.
            if ledger_ops.status_of(uow, job_id) is not None:
                return Decision("noop")
            return Decision("noop", error=_unknown_job(job_id))
        if row.unfinished_deliveries > 1:
            # The previous delivery started and never recorded an end: its worker died.
            ledger_ops.record_attempt(uow, job_id, row.attempts + 1, "worker_lost", _WORKER_LOST)
        uow.commit()
    kind = row.kind
    if row.unfinished_deliveries > settings.max_deliveries:
        decision = _conclude(job_id, kind, "dead", _CRASH_LOOP, settings, row.attempts)
        return _timed(decision, row.created_at)
    ctx = JobContext(job_id, kind, row.correlation_id, row.submitter, row.attempts + 1)
    try:
        decision = _apply(ctx, row.payload, row.order_key, row.seq, settings)
    except Exception as exc:
        err = classify(exc)
        if err.category is Category.SYSTEM and not err.retryable:
            log.exception("job %s failed unexpectedly", job_id)
            decision = _conclude(job_id, kind, "dead", err, settings, row.attempts)
        elif err.retryable:
            decision = _conclude(job_id, kind, "retry", err, settings, row.attempts)
        else:
            decision = _conclude(job_id, kind, "rejected", err, settings, row.attempts)
    return _timed(decision, row.created_at)


def _timed(decision: Decision, created_at: datetime) -> Decision:
    """Add submit-to-commit latency to a final decision (called right after its commit)."""
    if decision.action not in ("succeeded", "rejected", "dead"):
        return decision
    latency = max(0.0, (datetime.now(UTC) - created_at).total_seconds())
    return replace(decision, latency=latency)


def _apply(
    ctx: JobContext, payload: Any, order_key: str | None, seq: int, settings: Settings
) -> Decision:
    kind = KINDS.get(ctx.kind)
    handler = handler_for(ctx.kind)
    if kind is None or handler is None:
        raise unknown_kind(ctx.kind)
    parsed = parse_payload(kind.payload, unseal_payload(ctx.kind, payload))
    with UnitOfWork() as uow:
        pending, waits = ordering.lock_in_order(uow, ctx.job_id, order_key, seq)
        if not pending:
            return Decision("noop", kind=ctx.kind)
        if waits:
            uow.session.rollback()
            ledger_ops.requeue(uow, ctx.job_id, settings.order_wait_seconds, count_attempt=False)
            uow.commit()
            return Decision("wait", countdown=settings.order_wait_seconds, kind=ctx.kind)
        applied = handler(uow, ctx, parsed)
        ledger_ops.finish(uow, ctx.job_id, "succeeded", result=applied.result)
        uow.commit()
    return Decision("succeeded", kind=ctx.kind, conflicts=applied.conflicts, events=applied.events)


def _conclude(
    job_id: uuid.UUID,
    kind: str,
    action: Action,
    err: SchedqError,
    settings: Settings,
    attempts_before: int,
) -> Decision:
    attempt = attempts_before + 1
    with UnitOfWork() as uow:
        if not ledger_ops.lock_if_pending(uow, job_id):
            return Decision("noop", kind=kind)
        if action == "retry" and attempt > settings.retry_limit(err.category):
            action = "dead"
            err = error(
                "RETRIES_EXHAUSTED", category=err.category, details={"last_error": err.code}
            )
        if action == "retry":
            delay = backoff(settings, attempt, err.retry_after)
            next_at = ledger_ops.requeue(uow, job_id, delay, error=err)
            ledger_ops.record_attempt(uow, job_id, attempt, "retry", err, next_at)
            uow.commit()
            return Decision("retry", countdown=delay, error=err, kind=kind)
        status = "dead" if action == "dead" else "rejected"
        ledger_ops.finish(uow, job_id, status, error=err)
        ledger_ops.record_attempt(uow, job_id, attempt, status, err)
        if status == "dead":
            dead_letters.bury(uow, job_id, err, settings)
        uow.commit()
    conflicts = err.conflicts if isinstance(err, Refusal) else None
    return Decision(action, error=err, kind=kind, conflicts=conflicts)


def _unknown_job(job_id: uuid.UUID) -> SchedqError:
    return error(
        "UNKNOWN_JOB",
        details={"job_id": str(job_id)},
    )
