"""Out-of-order delivery through a real worker: the broker hands over the later plan first."""

from __future__ import annotations

from sqlalchemy import select

from producers.client import Client, JobRequest
from shared.db.jobs import Job
from shared.db.schedule import WorkingPlan
from shared.db.uow import UnitOfWork
from shared.kinds import get_kind
from shared.ledger.publish import Envelope, producer_app, publish
from shared.settings import get_settings
from tests.domain_support import plan_payload, record
from tests.workers import WorkerProcess


def test_later_plan_delivered_first_still_applies_last(worker: WorkerProcess, uid: str) -> None:
    doctor = f"order-{uid}"
    first = plan_payload(doctor, days={"mon": [{"start": "08:00", "end": "10:00"}]})
    second = plan_payload(doctor, days={"mon": [{"start": "14:00", "end": "16:00"}]})
    a, b = record([JobRequest("set_working_plan", first), JobRequest("set_working_plan", second)])
    settings = get_settings()
    kind = get_kind("set_working_plan")
    envelope = lambda job_id: Envelope(job_id, kind.task_name, kind.queue(settings), job_id)  # noqa: E731
    app = producer_app(settings)
    publish(app, [envelope(b.id)])
    publish(app, [envelope(a.id)], countdown=0.5)  # the earlier job arrives later
    client = Client()
    done_b = client.wait(b.id, timeout=30)
    done_a = client.wait(a.id, timeout=30)
    assert (done_a.status, done_b.status) == ("succeeded", "succeeded"), worker.log()
    assert done_a.finished_at is not None and done_b.finished_at is not None
    assert done_a.finished_at < done_b.finished_at
    with UnitOfWork() as uow:
        started = {
            str(j.id): j.started_at
            for j in uow.session.scalars(select(Job).where(Job.id.in_([a.id, b.id])))
        }
    assert started[b.id] < started[a.id]  # b really was delivered first, and waited
    with UnitOfWork() as uow:
        stored = uow.session.scalars(
            select(WorkingPlan).where(WorkingPlan.doctor_id == doctor)
        ).one()
        assert stored.job_id == b.id  # submission order, not delivery order
        assert stored.weekdays == {"mon": [{"start": "14:00", "end": "16:00"}]}
