"""Replaying a dead letter: a new ledger job (same kind, payload, correlation id) for the dead one.

The replay job carries the idempotency key ``dlq-replay:<original job id>`` and the dead letter
remembers it (``replayed_as``), so replaying twice, or from two terminals at once, creates one
job. A dead letter whose job has since succeeded is left alone. The caller commits, then
publishes the envelopes with ``publish_committed``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from shared.db.jobs import Job
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from shared.kinds import get_kind
from shared.ledger.publish import Envelope


@dataclass(frozen=True)
class Replayed:
    letter_id: int
    job_id: str
    outcome: str  # "replayed" | "already_replayed" | "already_succeeded"
    new_job_id: str | None


def replay_locked(uow: UnitOfWork, letter: DeadLetter) -> tuple[Replayed, Envelope | None]:
    """Replay one dead letter whose row the caller holds locked (``SELECT ... FOR UPDATE``)."""
    original = uow.session.get(Job, letter.job_id)
    if original is None or original.status == "succeeded":
        return Replayed(letter.id, str(letter.job_id), "already_succeeded", None), None
    if letter.replayed_as is not None:
        return Replayed(
            letter.id, str(letter.job_id), "already_replayed", str(letter.replayed_as)
        ), None
    key = f"dlq-replay:{letter.job_id}"
    new_id = uow.session.scalar(
        insert(Job)
        .values(
            id=uuid.uuid4(),
            kind=original.kind,
            queue=original.queue,
            order_key=original.order_key,
            payload=original.payload,
            payload_hash=original.payload_hash,
            idempotency_key=key,
            correlation_id=original.correlation_id,
            submitter="dlq-replay",
            replay_of=original.id,
        )
        .on_conflict_do_nothing(index_elements=[Job.idempotency_key])
        .returning(Job.id)
    )
    if new_id is None:  # a replay job exists already (its letter link was lost): reuse it
        new_id = uow.session.scalar(select(Job.id).where(Job.idempotency_key == key))
    letter.replayed_as = new_id
    letter.replayed_at = func.now()
    task = get_kind(original.kind).task_name
    envelope = Envelope(str(new_id), task, original.queue, original.correlation_id)
    return Replayed(letter.id, str(letter.job_id), "replayed", str(new_id)), envelope
