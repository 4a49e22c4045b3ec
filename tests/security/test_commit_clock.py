"""Recorded times are when things happened, not when their transaction began.

Issue 13 item 3: ``finished_at`` and audit ``at`` were ``now()``, the start of the delivery's
transaction, which precedes the wait for the doctor's lock: a booking that waited 6.5 minutes
was recorded as taking 0.03 s. Here a second connection holds the doctor's lock while the
booking's delivery waits for it; every time the booking records must be after the release.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime

import psycopg
import pytest
from sqlalchemy import select

from producers.client import Client, JobRequest
from shared.db.jobs import AuditEntry, Job
from shared.db.uow import UnitOfWork
from tests.conftest import wait_until
from tests.domain_support import apply, deliver, plan_payload, record

pytestmark = pytest.mark.usefixtures("redis_url")


def waiting_on_a_lock(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND wait_event = 'advisory'"
    ).fetchone()
    return bool(row and row[0])


def test_a_booking_that_waited_for_the_doctors_lock_records_when_it_finished(
    database_url: str, uid: str
) -> None:
    doctor = f"clock-{uid}"
    assert apply("set_working_plan", plan_payload(doctor)).status == "succeeded"
    booking = {
        "doctor_id": doctor,
        "starts_at": "2026-01-05T09:00:00+01:00",
        "ends_at": "2026-01-05T09:15:00+01:00",
        "patient_ref": "p-clock",
    }
    job_id = record([JobRequest("book_appointment", booking)])[0].id
    plain = database_url.replace("+psycopg", "")
    with psycopg.connect(plain) as holder, psycopg.connect(plain, autocommit=True) as watcher:
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [doctor])
        worker = threading.Thread(target=deliver, args=(job_id,))
        worker.start()
        assert wait_until(lambda: waiting_on_a_lock(watcher), timeout=30)
        # The delivery's transaction has begun and is blocked: hold a while, then release.
        watcher.execute("SELECT pg_sleep(3)")
        released = holder.execute("SELECT clock_timestamp()").fetchone()
        holder.commit()
        worker.join(60)
    assert released is not None
    released_at: datetime = released[0]
    with UnitOfWork() as uow:
        job = uow.session.get(Job, uuid.UUID(job_id))
        assert job is not None and job.status == "succeeded"
        audit = list(uow.session.scalars(select(AuditEntry.at).where(AuditEntry.job_id == job.id)))
        assert job.started_at is not None and job.finished_at is not None
        assert job.started_at < released_at  # it began before the wait...
        assert job.finished_at > released_at  # ...and finished after it (was: before)
        assert audit and all(at > released_at for at in audit)
        finished_at = job.finished_at
    assert Client().get_job(job_id).finished_at == finished_at.isoformat()
