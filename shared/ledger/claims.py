"""Claiming ledger jobs the broker lost, for the reconciler to publish again.

A claim moves each row's ``updated_at`` (and a stuck ``running`` row back to ``queued``) with
SKIP LOCKED, so two reconcilers, or two runs, never claim the same job twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update

from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.kinds import KINDS
from shared.ledger.publish import Envelope

BATCH = 500


def claim_lost(
    uow: UnitOfWork, status: str, cutoff: datetime, queues: tuple[str, ...]
) -> list[Envelope]:
    """Claim up to ``BATCH`` jobs in ``status`` untouched since ``cutoff``.

    The caller commits, then publishes the envelopes (``publish_committed``).
    """
    # Only jobs of the queues this deployment's workers consume: a row naming another queue
    # (another deployment on the same database, or a renamed queue) is not ours to publish,
    # and Celery would refuse a queue missing from its configuration, failing the whole batch.
    # Only kinds this process knows: it could not name their task, and a claim it cannot
    # publish would only push the row's clock forward (a beat of an older release, or one that
    # lacks test-only kinds, must leave such rows to a reconciler that knows them).
    due = select(Job.id).where(
        Job.status == status,
        Job.updated_at < cutoff,
        Job.queue.in_(queues),
        Job.kind.in_(tuple(KINDS)),
    )
    if status == "queued":
        due = due.where(or_(Job.next_attempt_at.is_(None), Job.next_attempt_at < cutoff))
    due = due.order_by(Job.seq).limit(BATCH).with_for_update(skip_locked=True)
    rows = uow.session.execute(
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(status="queued", updated_at=func.now())
        .returning(Job.id, Job.kind, Job.queue, Job.correlation_id)
    ).all()
    return [Envelope(str(r.id), KINDS[r.kind].task_name, r.queue, r.correlation_id) for r in rows]
