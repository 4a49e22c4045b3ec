"""Two deliveries of one job at the same moment have one effect (the executor's re-check of
"still pending?" under the doctor's lock), proven with the lock held on a second connection.

Both deliveries are started while the test holds the doctor's advisory lock, and released only
once PostgreSQL reports both waiting behind it: they are then certainly concurrent, and the
second one to get the lock finds the job already finished.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from producers.client import Client, JobRequest
from shared.db.jobs import AuditEntry
from shared.db.schedule import Appointment, Doctor
from shared.db.uow import UnitOfWork
from shared.settings import get_settings
from tests import pg_locks, probe_kinds
from tests.domain_support import apply, plan_payload, record
from worker.pipeline.executor import Decision, run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def _count(model: Any, job_id: str) -> int:
    with UnitOfWork() as uow:
        stmt = select(func.count()).select_from(model).where(model.job_id == uuid.UUID(job_id))
        return int(uow.session.scalar(stmt) or 0)


def _version(doctor: str) -> int:
    with UnitOfWork() as uow:
        row = uow.session.get(Doctor, doctor)
        return row.schedule_version if row is not None else 0


def _deliver_twice_at_once(job_id: str, doctor: str) -> list[Decision]:
    """Both deliveries queue behind the doctor's lock held here, then race for it."""
    settings = get_settings()
    # The holder closes before the pool joins: a failed wait still releases the threads.
    with ThreadPoolExecutor(2) as pool:
        with pg_locks.holder() as held:
            held.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [doctor])
            runs = [pool.submit(run_delivery, uuid.UUID(job_id), settings) for _ in range(2)]
            pg_locks.wait_blocked(held, 2)
        # Both deliveries end normally (neither raises).
        return [run.result(timeout=60) for run in runs]


Arrange = Callable[[str], JobRequest]


def _touch(doctor: str) -> JobRequest:
    return JobRequest("test_touch", {"doctor_id": doctor})


def _booking(doctor: str) -> JobRequest:
    # Capacity 2: a second application would find a free seat, so only the re-check stops it.
    assert apply("set_working_plan", plan_payload(doctor, capacity_per_slot=2)).status == (
        "succeeded"
    )
    slot = {"starts_at": "2026-01-05T09:00:00+01:00", "ends_at": "2026-01-05T09:15:00+01:00"}
    return JobRequest("book_appointment", {"doctor_id": doctor, "patient_ref": "p-1", **slot})


@pytest.mark.parametrize("arrange", [_touch, _booking], ids=["touch", "booking"])
def test_concurrent_duplicate_delivery_has_one_effect(
    uid: str, arrange: Arrange, caplog: pytest.LogCaptureFixture
) -> None:
    doctor = f"dup-{uid}"
    request = arrange(doctor)
    before = _version(doctor)
    (view,) = record([request])

    decisions = _deliver_twice_at_once(view.id, doctor)

    assert _count(AuditEntry, view.id) == 1
    assert _version(doctor) == before + 1
    if request.kind == "book_appointment":
        assert _count(Appointment, view.id) == 1
    final = Client().get_job(view.id)
    # Applied once and finished once; the second delivery found it done and changed nothing.
    assert (final.status, final.attempts) == ("succeeded", 1)
    # What the worker is told: the second is a no-op (acked with Ignore, counted as "noop"
    # under the job's kind), not a second success.
    assert sorted((d.action, d.kind) for d in decisions) == [
        ("noop", request.kind),
        ("succeeded", request.kind),
    ]
    # Found done, not failed: nothing for an operator to look at.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
