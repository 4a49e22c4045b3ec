"""The spine end to end: producer client -> Redis -> real celery worker -> PostgreSQL."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from producers.client import Client
from shared.db.jobs import AuditEntry
from shared.db.schedule import Doctor, WorkingPlan
from shared.db.uow import UnitOfWork
from shared.kinds import get_kind
from shared.ledger.publish import Envelope, producer_app, publish
from shared.settings import get_settings
from tests.conftest import wait_until
from tests.workers import WorkerProcess


def plan(doctor: str, start: str = "08:00", end: str = "12:00") -> dict[str, object]:
    return {
        "doctor_id": doctor,
        "time_zone": "Europe/Berlin",
        "valid_from": "2026-12-01",
        "slot_minutes": 15,
        "weekdays": {
            "mon": [{"start": start, "end": end}],
            "wed": [{"start": "13:00", "end": "17:00"}],
        },
    }


def test_valid_plan_reaches_succeeded_with_plan_stored(worker: WorkerProcess, uid: str) -> None:
    client = Client(submitter="e2e")
    view = client.submit("set_working_plan", plan(f"d-{uid}"), correlation_id=f"corr-{uid}")
    final = client.wait(view.id, timeout=30)
    assert final.status == "succeeded", worker.log()
    assert final.result == {
        "doctor_id": f"d-{uid}",
        "valid_from": "2026-12-01",
        "shifts": 2,
        "schedule_version": 1,
    }
    with UnitOfWork() as uow:
        stored = uow.session.get(
            WorkingPlan, (f"d-{uid}", __import__("datetime").date(2026, 12, 1))
        )
        assert stored is not None
        assert stored.weekdays["mon"] == [{"start": "08:00", "end": "12:00"}]
        audit = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.job_id == uuid.UUID(view.id))
        ).one()
        assert audit.correlation_id == f"corr-{uid}"
        assert audit.actor == "e2e"


def test_invalid_plan_is_rejected_with_codes_and_worker_keeps_serving(
    worker: WorkerProcess, uid: str
) -> None:
    client = Client()
    bad = client.submit("set_working_plan", plan(f"b-{uid}", start="17:00", end="09:00"))
    final = client.wait(bad.id, timeout=30)
    assert final.status == "rejected"
    assert final.error is not None
    assert final.error["code"] == "VALIDATION_FAILED"
    assert final.error["category"] == "VALIDATION"
    assert [v["code"] for v in final.error["details"]["violations"]] == [
        "SHIFT_END_NOT_AFTER_START"
    ]
    assert "Traceback" not in final.error["message"]
    good = client.submit("set_working_plan", plan(f"g-{uid}"))
    assert client.wait(good.id, timeout=30).status == "succeeded"
    with UnitOfWork() as uow:
        assert uow.session.get(Doctor, f"b-{uid}") is None


def test_same_job_published_twice_has_one_effect(worker: WorkerProcess, uid: str) -> None:
    client = Client()
    view = client.submit("set_working_plan", plan(f"t-{uid}"))
    settings = get_settings()
    kind = get_kind("set_working_plan")
    dup = Envelope(view.id, kind.task_name, kind.queue(settings), "dup")
    # One duplicate racing the original, two more after it finished: at-least-once transport.
    publish(producer_app(settings), [dup])
    assert client.wait(view.id, timeout=30).status == "succeeded"
    publish(producer_app(settings), [dup, dup])

    def deliveries_done() -> int:
        # A duplicate of a finished job ends with Ignore (Flower keeps the finished state).
        log = worker.log_text()
        return sum(
            log.count(f"{kind.task_name}[{view.id}] {end}") for end in ("succeeded", "ignored")
        )

    # The worker ran all four deliveries (its log says so) ...
    assert wait_until(lambda: deliveries_done() >= 4, timeout=30), worker.log()
    # ... and the effect happened exactly once.
    with UnitOfWork() as uow:
        audits = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.job_id == uuid.UUID(view.id))
        )
        version = uow.session.scalar(select(Doctor.schedule_version).where(Doctor.id == f"t-{uid}"))
    assert audits == 1
    assert version == 1
