"""Setting a dead job aside: a ``dead_letters`` row in the job's own transaction, then a message.

The row is the truth (operators list, show and replay from it); the message on the
``dead_letter`` queue is a notification for whoever watches that queue. It is published only
after the transaction commits, and nothing consumes it automatically: it is parked.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from shared.db.jobs import Job
from shared.db.reliability import DeadLetter
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.ledger import delivery as ledger_ops
from shared.ledger.publish import Envelope, publish_committed
from shared.settings import Settings

log = logging.getLogger("schedq.dead_letters")

DEAD_LETTER_TASK = "schedq.dead_letter"


def bury(uow: UnitOfWork, job_id: uuid.UUID, err: SchedqError, settings: Settings) -> None:
    """Write (or refresh) the job's dead letter; call with the job row locked, before commit."""
    job = uow.session.scalars(select(Job).where(Job.id == job_id)).one()
    attempts = ledger_ops.history(uow, job_id)
    now = datetime.now(UTC)
    first = attempts[0].at if attempts else now
    values = {
        "job_id": job_id,
        "kind": job.kind,
        "queue": job.queue,
        "payload": job.payload,
        "error": err.as_dict(),
        "error_code": err.code,
        "attempts": job.attempts,
        "history": [a.as_dict() for a in attempts],
        "first_failure_at": first,
        "last_failure_at": now,
    }
    stmt = insert(DeadLetter).values(**values)
    uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[DeadLetter.job_id],
            set_={k: stmt.excluded[k] for k in values if k not in ("job_id", "first_failure_at")},
        )
    )
    # A task id of its own: the job's id would make Flower file this notice under the job's
    # task and rename it. The job id is the message's argument.
    envelope = Envelope(
        str(job_id),
        DEAD_LETTER_TASK,
        settings.dead_letter_queue,
        job.correlation_id,
        task_id=str(uuid.uuid4()),
    )
    # Best effort: the dead-letter row is the truth, a lost notice loses nothing.
    uow.after_commit(lambda: publish_committed(settings, [envelope]))
