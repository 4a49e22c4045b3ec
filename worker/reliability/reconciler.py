"""The reconciler (run by beat): the ledger is the truth, so jobs the broker lost are resent.

Two kinds of job are republished:
- ``queued`` for longer than SCHEDQ_RECONCILE_AFTER_SECONDS past when they were due: the
  producer crashed between commit and publish, or Redis lost the message (flush, restart
  without persistence);
- ``running`` for longer than the hard time limit plus a margin: the worker holding it died
  (kill -9, host lost), and Redis would only redeliver after the visibility timeout. These go
  back to ``queued``; their delivery counter still counts the dead delivery, so a job that
  keeps killing workers is quarantined by the executor, not republished forever.
Republishing is safe: a duplicate delivery of a job is a no-op once it is terminal, and two
concurrent deliveries serialise on the job row. Rows are claimed with SKIP LOCKED and their
``updated_at`` is moved, so two reconcilers (or two runs) do not resend the same job twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.db.uow import UnitOfWork
from shared.ledger.claims import BATCH, claim_lost
from shared.ledger.publish import publish_committed
from shared.settings import Settings, get_settings

log = logging.getLogger("schedq.reconciler")


@dataclass(frozen=True)
class Reconciled:
    queued: int
    stuck: int


def reconcile(settings: Settings) -> Reconciled:
    now = datetime.now(UTC)
    queued_cutoff = now - timedelta(seconds=settings.reconcile_after_seconds)
    stuck_cutoff = now - timedelta(
        seconds=settings.time_limit + settings.reconcile_running_margin_seconds
    )
    queues = (settings.schedule_queue, settings.calendar_queue)
    totals = [0, 0]
    for index, (status, cutoff) in enumerate(
        (("queued", queued_cutoff), ("running", stuck_cutoff))
    ):
        while True:
            with UnitOfWork() as uow:
                envelopes = claim_lost(uow, status, cutoff, queues)
                uow.commit()
            # Publish after commit; if publishing fails the rows stay queued and the next run
            # (once the threshold has passed again) tries once more.
            sent = publish_committed(settings, envelopes)
            totals[index] += len(envelopes)
            # A short batch was the last; a failed publish (broker down) waits for the next run.
            if len(envelopes) < BATCH or sent < len(envelopes):
                break
    result = Reconciled(queued=totals[0], stuck=totals[1])
    if result.queued or result.stuck:
        log.warning("reconciler republished %d queued and %d stuck jobs", *totals)
    return result


def run() -> dict[str, int]:
    """The beat task body (registered as ``schedq.reconcile`` by ``worker.app``)."""
    result = reconcile(get_settings())
    return {"queued": result.queued, "stuck": result.stuck}
