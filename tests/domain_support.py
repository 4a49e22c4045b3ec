"""Builders and a synchronous job runner shared by the domain tests.

``apply`` records a job as the producer client does (same shape check and ledger row) but does
not publish it, then runs its delivery through the real executor in this process (advisory
lock, ordering, one transaction, error mapping). Integration tests thus exercise the worker's
code path on their own schedule, even while an end-to-end worker is consuming the broker.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects.postgresql import insert

from producers.client import Client, JobRequest, JobView
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.ledger.submit import ledger_row
from shared.settings import get_settings
from worker.pipeline.executor import Decision, run_delivery


def plan_payload(
    doctor: str,
    zone: str = "Europe/Berlin",
    valid_from: str = "2026-01-01",
    slot: int = 15,
    days: dict[str, list[dict[str, Any]]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    every = [{"start": "08:00", "end": "12:00"}]
    weekdays = days if days is not None else {d: every for d in ("mon", "tue", "wed", "thu", "fri")}
    return {
        "doctor_id": doctor,
        "time_zone": zone,
        "valid_from": valid_from,
        "slot_minutes": slot,
        "weekdays": weekdays,
        **extra,
    }


def deliver(job_id: str) -> Decision:
    """Run deliveries until the job is no longer waiting for a predecessor or a retry."""
    for _ in range(50):
        decision = run_delivery(uuid.UUID(job_id), get_settings())
        if decision.action not in ("wait", "retry"):
            return decision
    raise AssertionError(f"job {job_id} never settled")


def record(requests: list[JobRequest], client: Client | None = None) -> list[JobView]:
    """Ledger rows for ``requests`` in submission order, with no broker message."""
    client = client or Client(submitter="tests")
    rows = [ledger_row(client.settings, client.submitter, r) for r in requests]
    with UnitOfWork() as uow:
        uow.session.execute(insert(Job).values(rows))
        uow.commit()
    return [client.get_job(row["id"]) for row in rows]


def apply(kind: str, payload: dict[str, Any], client: Client | None = None) -> JobView:
    client = client or Client(submitter="tests")
    request = JobRequest(kind, payload, correlation_id=f"corr-{uuid.uuid4().hex[:8]}")
    view = record([request], client)[0]
    deliver(view.id)
    return client.get_job(view.id)
