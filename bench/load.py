"""What the benchmark enqueues: schedq jobs through the producer client, baseline messages
through Celery with the same settings. Both carry one id as their only argument."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bench import baseline
from producers.client import Client, JobRequest
from shared.db.jobs import PENDING_STATUSES, Job
from shared.db.uow import UnitOfWork
from shared.domain.plan import WEEKDAYS, WorkingPlanPayload

KIND = "set_working_plan"
BATCH = 500

# The history figure's calendar. Every doctor works 08:00-18:00 local time on every day of the
# week in 15-minute slots: 20 pairs of slots a day. Bookings take the first slot of a pair
# (08:00, 08:30, ...), existing appointments the second (08:15, 08:45, ...), so a booking lands
# between existing appointments of its day and never overlaps one.
CALENDAR_ZONE = "Europe/Berlin"
DAY_START, DAY_END = time(8, 0), time(18, 0)
SLOT = timedelta(minutes=15)
PAIRS_PER_DAY = 20


def plan(doctor_id: str, i: int) -> dict[str, Any]:
    """A valid weekly plan; ``valid_from`` varies so jobs mix plan creation and replacement."""
    morning = {"start": "08:00", "end": "12:00"}
    afternoon = {"start": "13:00", "end": "17:00"}
    return {
        "doctor_id": doctor_id,
        "time_zone": "Europe/Berlin",
        "valid_from": f"2027-01-{1 + i % 28:02d}",
        "slot_minutes": 15,
        "weekdays": {d: [morning, afternoon] for d in ("mon", "tue", "wed", "thu", "fri")},
    }


def calendar_plan(doctor_id: str, valid_from: date) -> WorkingPlanPayload:
    """The history figure's plan: every day of the week 08:00-18:00, 15-minute slots, one seat."""
    shift = {"start": DAY_START.strftime("%H:%M"), "end": DAY_END.strftime("%H:%M")}
    return WorkingPlanPayload.model_validate(
        {
            "doctor_id": doctor_id,
            "time_zone": CALENDAR_ZONE,
            "valid_from": valid_from,
            "slot_minutes": SLOT.seconds // 60,
            "weekdays": {d: [shift] for d in WEEKDAYS},
        }
    )


def book_requests(
    prefix: str, doctors: int, count: int, first: int, day0: date
) -> Iterator[JobRequest]:
    """``count`` bookings, round-robin over doctors ``<prefix>-0`` .. ``<prefix>-<doctors - 1>``.

    Booking number ``g`` (``first``, ``first + 1``, ...) goes to doctor ``g % doctors`` and takes
    that doctor's ``k = g // doctors``-th booking slot: local day ``day0 + k // 20``, the first
    slot of pair ``k % 20``. Calls with disjoint ranges of ``g`` never book the same slot.
    """
    zone = ZoneInfo(CALENDAR_ZONE)
    for g in range(first, first + count):
        k = g // doctors
        day = day0 + timedelta(days=k // PAIRS_PER_DAY)
        start = datetime.combine(day, DAY_START, zone) + 2 * SLOT * (k % PAIRS_PER_DAY)
        payload = {
            "doctor_id": f"{prefix}-{g % doctors}",
            "starts_at": start.isoformat(),
            "ends_at": (start + SLOT).isoformat(),
            "patient_ref": f"bench:patient/{g}",
        }
        yield JobRequest("book_appointment", payload)


def requests(tag: str, count: int, doctors: int) -> Iterator[JobRequest]:
    """Round-robin over many doctors: consecutive jobs belong to different doctors, as in a
    busy clinic group, so per-doctor ordering rarely makes a job wait for its predecessor."""
    for i in range(count):
        yield JobRequest(KIND, plan(f"{tag}-{i % doctors}", i // doctors))


def fill_schedq(client: Client, prefix: str, count: int, doctors: int) -> None:
    """``count`` jobs for doctors ``<prefix>-0`` .. ``<prefix>-<doctors - 1>``."""
    submit_all(client, requests(prefix, count, doctors))


def submit_all(client: Client, reqs: Iterable[JobRequest]) -> None:
    """Submit in batches of ``BATCH`` (``Client.submit_many``)."""
    batch: list[JobRequest] = []
    for req in reqs:
        batch.append(req)
        if len(batch) == BATCH:
            client.submit_many(batch)
            batch = []
    if batch:
        client.submit_many(batch)


def fill_baseline(task_name: str, count: int) -> None:
    """Publish through one producer in kombu ``Producer.batch`` groups (the fastest enqueue)."""
    app = baseline.app
    task = app.tasks[task_name]
    sent = 0
    with app.producer_or_acquire() as producer:
        while sent < count:
            n = min(BATCH, count - sent)
            with producer.batch(max_size=n):
                for _ in range(n):
                    task.apply_async((str(uuid.uuid4()),), producer=producer, queue="schedule")
            sent += n


def count_status(submitter: str, status: str) -> int:
    with UnitOfWork() as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(Job)
                .where(Job.submitter == submitter, Job.status == status)
            )
            or 0
        )


def forget_jobs(submitter: str) -> None:
    """Set aside jobs no worker will run (the submit figure's): they must not look pending later.

    An UPDATE, not a DELETE: ``jobs.replay_of`` references ``jobs.id`` without an index, so
    deleting N jobs scans the table N times (minutes for 20,000 rows).
    """
    with UnitOfWork() as uow:
        uow.session.execute(
            update(Job)
            .where(Job.submitter == submitter, Job.status.in_(PENDING_STATUSES))
            .values(status="dead", finished_at=func.now(), error_code="BENCH_SET_ASIDE")
        )
        uow.commit()
