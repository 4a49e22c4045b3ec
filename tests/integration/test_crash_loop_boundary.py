"""Crash-loop quarantine at exactly ``max_deliveries`` lost deliveries, and not one before.

A delivery that killed its worker leaves ``begin_delivery``'s count behind and no outcome.
Such deliveries are staged here with the ledger's own ``begin_delivery`` (what a worker does
before it dies), then the next delivery runs through the real executor.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from producers.client import Client, JobRequest
from shared.db.jobs import AuditEntry
from shared.db.uow import UnitOfWork
from shared.ledger import delivery as ledger_ops
from shared.settings import get_settings
from tests import probe_kinds
from tests.domain_support import record
from worker.pipeline.executor import run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


def _audits(job_id: str) -> int:
    with UnitOfWork() as uow:
        stmt = select(func.count()).where(AuditEntry.job_id == uuid.UUID(job_id))
        return int(uow.session.scalar(stmt) or 0)


def _lost_deliveries(job_id: str, count: int) -> None:
    for _ in range(count):
        with UnitOfWork() as uow:
            assert ledger_ops.begin_delivery(uow, uuid.UUID(job_id)) is not None
            uow.commit()


@pytest.mark.parametrize("limit", [1, 3, 5])
@pytest.mark.parametrize("lost", ["limit-1", "limit"])
def test_quarantine_after_exactly_max_deliveries_lost(uid: str, limit: int, lost: str) -> None:
    settings = get_settings().model_copy(update={"max_deliveries": limit})
    died = limit if lost == "limit" else limit - 1
    (view,) = record([JobRequest("test_touch", {"doctor_id": f"cl-{uid}"})])
    _lost_deliveries(view.id, died)

    run_delivery(uuid.UUID(view.id), settings)

    final = Client().get_job(view.id)
    outcomes = [h["outcome"] for h in final.history]
    if died == limit:
        assert final.status == "dead"
        assert final.error == {
            "code": "WORKER_CRASH_LOOP",
            "category": "SYSTEM",
            "severity": "CRITICAL",
            "message": (
                "The job stopped its worker several times and was set aside for an operator."
            ),
            "details": {},
        }
        assert outcomes == ["worker_lost"] * (died > 0) + ["dead"]
        # Not run again: the quarantine itself is the one recorded attempt, with no effect.
        assert final.attempts == 1
        assert _audits(view.id) == 0
    else:
        assert final.status == "succeeded"
        assert outcomes == ["worker_lost"] * (died > 0)
        assert _audits(view.id) == 1
    if died > 1:  # the lost deliveries are recorded once, as the worker loss they were
        (lost,) = [h for h in final.history if h["outcome"] == "worker_lost"]
        assert (lost["attempt"], lost["error_code"]) == (1, "WORKER_LOST")


def test_the_default_limit_is_three() -> None:
    # The number documented in README.md (SCHEDQ_MAX_DELIVERIES) and used by the fault tests.
    assert type(get_settings()).model_fields["max_deliveries"].default == 3
