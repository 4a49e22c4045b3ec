"""The calendar beat tick: due links get one sync job per interval, spread by a per-link phase."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from shared.calendar_settings import CalendarSettings
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.settings import get_settings
from tests.calendar_support import make_doctor, run
from worker.calendar.beat import bucket, enqueue_due_syncs, phase

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
SETTINGS = CalendarSettings(sync_interval_seconds=600, sync_jitter_seconds=120)


def sync_jobs(link_id: str) -> list[tuple[str, str]]:
    with UnitOfWork() as uow:
        rows = uow.session.execute(
            select(Job.status, Job.idempotency_key)
            .where(Job.kind == "sync_calendar", Job.payload["link_id"].astext == link_id)
            .order_by(Job.seq)
        )
        return [(status, key or "") for status, key in rows]


def test_phase_spreads_links_and_bucket_moves_once_per_interval() -> None:
    phases = {phase(uuid.uuid4(), 120) for _ in range(200)}
    assert min(phases) >= 0 and max(phases) <= 120 and len(phases) > 50
    link = uuid.uuid4()
    start = datetime(2026, 12, 1, tzinfo=UTC)
    buckets = {bucket(link, start + timedelta(seconds=s), SETTINGS) for s in range(0, 600, 10)}
    # The interval starts at a multiple of 600 s, so the link's bucket moves inside it exactly
    # when its phase is not 0, and then once.
    assert start.timestamp() % 600 == 0
    assert len(buckets) == (1 if phase(link, 120) == 0 else 2)
    assert (
        bucket(link, start + timedelta(seconds=600), SETTINGS) == bucket(link, start, SETTINGS) + 1
    )


def _sync_job_count() -> int:
    with UnitOfWork() as uow:
        stmt = select(func.count()).select_from(Job).where(Job.kind == "sync_calendar")
        return int(uow.session.scalar(stmt) or 0)


def _finish(link_id: str) -> None:
    """The link's pending sync finishes (as a worker would have done it)."""
    with UnitOfWork() as uow:
        uow.session.execute(
            update(Job)
            .where(Job.kind == "sync_calendar", Job.payload["link_id"].astext == link_id)
            .values(status="succeeded", finished_at=func.now())
        )
        uow.commit()


def test_beat_submits_one_sync_per_active_import_link_per_interval(uid: str) -> None:
    doctor = make_doctor(f"beat-{uid}")

    def link(url: str, **extra: object) -> str:
        payload = {"doctor_id": doctor, "url": url, **extra}
        return str(run("link_calendar", payload)["link_id"])

    active = link(f"http://127.0.0.1:9/{uid}.ics", kind="ics")
    inactive = link(f"http://127.0.0.1:9/{uid}-off.ics", kind="ics", active=False)
    export = link(f"http://127.0.0.1:9/{uid}/", kind="caldav", direction="export")
    # A calendar queue no worker of this run consumes: the sync jobs stay queued until this test
    # finishes them, so which branch of the rule runs is decided here, not by a leftover worker.
    settings = get_settings().model_copy(update={"calendar_queue": f"beat-{uid}"})
    now = datetime.now(UTC)

    # Other tests' links may be due too: the count returned is exactly the jobs it created.
    before = _sync_job_count()
    created = enqueue_due_syncs(settings, SETTINGS, now)
    assert created >= 1 and _sync_job_count() - before == created
    jobs = sync_jobs(active)
    assert len(jobs) == 1 and jobs[0][1].startswith(f"sync_calendar:{active}:")
    assert jobs[0][0] == "queued"
    assert sync_jobs(inactive) == [] and sync_jobs(export) == []

    enqueue_due_syncs(settings, SETTINGS, now + timedelta(seconds=5))  # same interval
    assert len(sync_jobs(active)) == 1

    # The next interval while the sync is still queued: never a second sync of one link.
    later = now + timedelta(seconds=SETTINGS.sync_interval_seconds)
    enqueue_due_syncs(settings, SETTINGS, later)
    assert [status for status, _ in sync_jobs(active)] == ["queued"]

    # Once it has finished, the next interval gets the next sync, under the next bucket's key.
    _finish(active)
    enqueue_due_syncs(settings, SETTINGS, later)
    jobs = sync_jobs(active)
    assert [status for status, _ in jobs] == ["succeeded", "queued"]
    assert jobs[1][1] == f"sync_calendar:{active}:{bucket(uuid.UUID(active), later, SETTINGS)}"
    assert jobs[0][1] != jobs[1][1]


def test_beat_schedule_names_registered_tasks() -> None:
    from worker.app import app

    schedule = app.conf.beat_schedule
    assert set(schedule) == {"schedq-reconcile", "schedq-retention", "calendar-enqueue-due-syncs"}
    for entry in schedule.values():
        assert entry["task"] in app.tasks
    entry = schedule["calendar-enqueue-due-syncs"]
    assert entry["options"]["queue"] == "calendar"
    assert 0 < entry["schedule"] <= 60
