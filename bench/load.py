"""What the benchmark enqueues: schedq jobs through the producer client, baseline messages
through Celery with the same settings. Both carry one id as their only argument."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select, update

from bench import baseline
from producers.client import Client, JobRequest
from shared.db.ledger import PENDING_STATUSES, Job
from shared.db.uow import UnitOfWork

KIND = "set_working_plan"
BATCH = 500


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


def requests(tag: str, count: int, doctors: int) -> Iterator[JobRequest]:
    """Round-robin over many doctors: consecutive jobs belong to different doctors, as in a
    busy clinic group, so per-doctor ordering rarely makes a job wait for its predecessor."""
    for i in range(count):
        yield JobRequest(KIND, plan(f"{tag}-{i % doctors}", i // doctors))


def fill_schedq(client: Client, prefix: str, count: int, doctors: int) -> None:
    """``count`` jobs for doctors ``<prefix>-0`` .. ``<prefix>-<doctors - 1>``."""
    batch: list[JobRequest] = []
    for req in requests(prefix, count, doctors):
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
