"""Every domain job kind end to end through a real worker, using the documented examples."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from producers.client import Client
from shared.db.jobs import AuditEntry
from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from tests.doc_examples import ORDER, example
from tests.workers import WorkerProcess


def test_each_documented_example_runs_through_the_worker(worker: WorkerProcess, uid: str) -> None:
    client = Client(submitter="e2e-domain")
    appointment = uuid.uuid4()
    seen: dict[str, str] = {}
    for kind in ORDER:
        view = client.submit(kind, example(kind, uid, appointment), correlation_id=f"{kind}-{uid}")
        final = client.wait(view.id, timeout=30)
        assert final.status == "succeeded", (kind, final.error, worker.log())
        seen[kind] = view.id
    with UnitOfWork() as uow:
        row = uow.session.get(Appointment, appointment)
        assert row is not None
        assert (row.status, row.starts_at.isoformat()) == ("cancelled", "2026-12-07T08:00:00+00:00")
        audited = {
            a.job_id: a.correlation_id
            for a in uow.session.scalars(
                select(AuditEntry).where(
                    AuditEntry.job_id.in_([uuid.UUID(i) for i in seen.values()])
                )
            )
        }
    assert {str(k) for k in audited} == set(seen.values())  # every kind wrote its audit row
    # Availability reflects the jobs: the holiday closes 2026-12-24 (a Thursday).
    answer = client.availability(f"dr-{uid}", date(2026, 12, 24), date(2026, 12, 25))
    assert answer["slots"] == []
    monday = client.availability(f"dr-{uid}", date(2026, 12, 7), date(2026, 12, 8))
    assert len(monday["slots"]) == 31  # 15 + 16 slots; the cancelled booking freed its slot
