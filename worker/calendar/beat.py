"""Periodic calendar sync: which links are due, and submitting their ``sync_calendar`` jobs.

Beat runs :func:`enqueue_due_syncs` every ``tick`` seconds. Each link gets a fixed phase
(0..jitter seconds, from a hash of its id) so links spread over the interval instead of all
hitting providers at once; the idempotency key ``sync_calendar:<link>:<bucket>`` makes a second
beat tick (or a second beat) in the same interval a no-op. A link whose previous sync is still
queued or running is skipped, so syncs of one link never pile up.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import String, cast, select

from shared.calendar_settings import CalendarSettings
from shared.db.calendar import CalendarLink
from shared.db.jobs import PENDING_STATUSES, Job
from shared.db.uow import UnitOfWork
from shared.ledger.submit import JobRequest, submit_jobs
from shared.settings import Settings


def phase(link_id: uuid.UUID, jitter: int) -> int:
    digest = hashlib.sha256(link_id.bytes).digest()
    return int.from_bytes(digest[:4], "big") % (jitter + 1)


def bucket(link_id: uuid.UUID, now: datetime, settings: CalendarSettings) -> int:
    """Index of the link's current interval; it changes once per interval, at the link's phase."""
    shifted = now.timestamp() - phase(link_id, settings.sync_jitter_seconds)
    return int(shifted // settings.sync_interval_seconds)


def _candidates(uow: UnitOfWork) -> list[tuple[uuid.UUID, str]]:
    pending = select(Job.payload["link_id"].astext).where(
        Job.kind == "sync_calendar", Job.status.in_(PENDING_STATUSES)
    )
    rows = uow.session.execute(
        select(CalendarLink.id, CalendarLink.doctor_id)
        .where(
            CalendarLink.active.is_(True),
            CalendarLink.direction.in_(("import", "both")),
            cast(CalendarLink.id, String).not_in(pending),
        )
        .order_by(CalendarLink.id)
    )
    return [(link_id, doctor_id) for link_id, doctor_id in rows]


def enqueue_due_syncs(settings: Settings, calendar: CalendarSettings, now: datetime) -> int:
    """Submit one sync job per active import link for this interval; returns how many are new."""
    with UnitOfWork() as uow:
        links = _candidates(uow)
        keys = {
            link_id: f"sync_calendar:{link_id}:{bucket(link_id, now, calendar)}"
            for link_id, _ in links
        }
        known = set(
            uow.session.scalars(
                select(Job.idempotency_key).where(Job.idempotency_key.in_(keys.values()))
            )
        )
    requests = [
        JobRequest(
            "sync_calendar",
            {"doctor_id": doctor_id, "link_id": str(link_id)},
            idempotency_key=keys[link_id],
            correlation_id=f"beat-{link_id}",
        )
        for link_id, doctor_id in links
        if keys[link_id] not in known
    ]
    # A key taken meanwhile by another beat returns that job.
    submit_jobs(settings, "beat", requests)
    return len(requests)
