"""Crash-loop quarantine at exactly ``max_deliveries`` lost deliveries, and not one before.

A delivery that killed its worker leaves ``begin_delivery``'s count behind and no outcome.
Such deliveries are staged here with the ledger's own ``begin_delivery`` (what a worker does
before it dies), then the next delivery runs through the real executor.
"""

from __future__ import annotations

import uuid

import pytest

from producers.client import Client, JobRequest
from shared.db.uow import UnitOfWork
from shared.ledger import delivery as ledger_ops
from shared.settings import get_settings
from tests import probe_kinds
from tests.domain_support import record
from worker.pipeline.executor import run_delivery

probe_kinds.install()
pytestmark = pytest.mark.usefixtures("database_url", "redis_url")


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
        assert final.error is not None and final.error["code"] == "WORKER_CRASH_LOOP"
        assert outcomes == ["worker_lost"] * (died > 0) + ["dead"]
    else:
        assert final.status == "succeeded"
        assert outcomes == ["worker_lost"] * (died > 0)


def test_the_default_limit_is_three() -> None:
    # The number documented in README.md (SCHEDQ_MAX_DELIVERIES) and used by the fault tests.
    assert type(get_settings()).model_fields["max_deliveries"].default == 3
