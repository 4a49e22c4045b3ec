"""Per-doctor order under a hot key: let a predecessor that is about to run go first, instead
of sending the job back to the broker.

A job runs only when no earlier job of its order key is pending. When one was, the delivery
went back to the broker at once (``Decision("wait")``, ``order_wait_seconds`` later). Under a
hot key that cascades: two pool children take jobs k and k+1 together, k+1 reaches the
doctor's lock first, finds k pending and is re-queued behind every later job of that doctor;
each of them then finds k+1 pending and is re-queued in turn, so N jobs cost O(N^2) deliveries
(the bench's hot-key figure: 3 jobs/s). But a predecessor that is claimed by a delivery, or due
now (its message is at or near the head of the queue), reaches the same lock within
milliseconds. So while every pending predecessor is ``due``, the delivery lets go of the locks
(a rollback ends the transaction-level advisory lock, and PostgreSQL grants it to the sessions
already queued for it) and takes them again, for at most ``PATIENCE_SECONDS``. A predecessor
waiting for a later time (a retry's backoff) sends the job back at once, as before.

The patience is short: a predecessor whose worker died stays ``running`` until its message
comes back, and each waiting successor then spends 50 ms of a pool child per cycle, no more.
"""

from __future__ import annotations

import time
import uuid

from shared.db.uow import UnitOfWork
from shared.ledger import delivery as ledger_ops

# Between letting go of the lock and taking it again: long enough for a waiting delivery to be
# granted it, short against a job's few milliseconds.
PAUSE_SECONDS = 0.002
PATIENCE_SECONDS = 0.05


def lock_in_order(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    order_key: str | None,
    seq: int,
    patience: float = PATIENCE_SECONDS,
) -> tuple[bool, str | None]:
    """Take the order key's lock and the job's row lock: (still pending, what it waits for),
    as ``ledger.delivery.lock_if_pending_in_order``, after yielding to due predecessors."""
    deadline: float | None = None  # from the first look: time queued for the lock is not waiting
    while True:
        if order_key is not None:
            ledger_ops.lock_order_key(uow, order_key)
        pending, waits = ledger_ops.lock_if_pending_in_order(uow, job_id, order_key, seq)
        now = time.monotonic()
        deadline = now + patience if deadline is None else deadline
        if not pending or waits != "due" or now >= deadline:
            return pending, waits
        uow.session.rollback()  # lets go of both locks; the predecessor's delivery goes first
        time.sleep(PAUSE_SECONDS)
