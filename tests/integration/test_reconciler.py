"""The reconciler on the real database and broker: what it resends, and what it leaves alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis as redis_lib
from sqlalchemy import insert, update

from producers.client import JobRequest
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.ledger.submit import ledger_row
from shared.settings import Settings, get_settings
from tests import probe_kinds
from worker.reliability.reconciler import reconcile

probe_kinds.install()


@pytest.fixture
def settings(database_url: str, redis_url: str) -> Iterator[Settings]:
    # Queues of this test's own in the run's Redis db: no worker of this run consumes them, and
    # the reconciler serves only these, so it sees only the rows this test inserts (pending
    # jobs other tests left behind are on other queues and are neither counted nor touched).
    suffix = uuid.uuid4().hex[:6]
    queues = {"schedule_queue": f"recon-{suffix}", "calendar_queue": f"recon-cal-{suffix}"}
    yield get_settings().model_copy(update={**queues, "reconcile_after_seconds": 60})


def _job(settings: Settings, **values: Any) -> uuid.UUID:
    row = ledger_row(
        settings, "tests", JobRequest("test_touch", {"doctor_id": f"rc-{uuid.uuid4().hex[:6]}"})
    )
    row.update(values)
    with UnitOfWork() as uow:
        uow.session.execute(insert(Job).values(row))
        uow.commit()
    return row["id"]  # type: ignore[no-any-return]


def _age(job_id: uuid.UUID, seconds: float, **values: Any) -> None:
    then = datetime.now(UTC) - timedelta(seconds=seconds)
    with UnitOfWork() as uow:
        uow.session.execute(update(Job).where(Job.id == job_id).values(updated_at=then, **values))
        uow.commit()


def _published(settings: Settings) -> list[str]:
    client = redis_lib.Redis.from_url(settings.broker_url)
    return [json.loads(m)["headers"]["id"] for m in client.lrange(settings.schedule_queue, 0, -1)]


def test_resends_lost_queued_and_stuck_running_jobs_only(settings: Settings) -> None:
    lost = _job(settings)  # producer died between commit and publish, 2 minutes ago
    _age(lost, 120)
    fresh = _job(settings)  # queued a moment ago: its message is surely still on its way
    later = _job(settings)  # a retry due in the future is not lost
    _age(later, 120, next_attempt_at=datetime.now(UTC) + timedelta(seconds=30))
    stuck = _job(settings, status="running", unfinished_deliveries=1)
    _age(stuck, settings.time_limit + settings.reconcile_running_margin_seconds + 5)
    busy = _job(settings, status="running", unfinished_deliveries=1)  # still within its limit
    _age(busy, 1)
    done = _job(settings, status="succeeded", finished_at=datetime.now(UTC))
    _age(done, 600)

    first = reconcile(settings)
    second = reconcile(settings)  # claimed rows moved their clock: nothing twice

    sent = _published(settings)
    assert sorted(sent) == sorted([str(lost), str(stuck)])
    assert (first.queued, first.stuck) == (1, 1)
    assert (second.queued, second.stuck) == (0, 0)
    with UnitOfWork() as uow:
        again = uow.session.get(Job, stuck)
        assert again is not None and again.status == "queued"
        assert again.unfinished_deliveries == 1  # the lost delivery still counts
    assert {fresh, later, busy, done}.isdisjoint({uuid.UUID(i) for i in sent})


def test_leaves_jobs_of_queues_it_does_not_serve(settings: Settings) -> None:
    # Another deployment on the same database (or a queue renamed since): not ours to publish,
    # and it must not stop the jobs that are ours.
    foreign = _job(settings, queue=f"elsewhere-{uuid.uuid4().hex[:6]}")
    _age(foreign, 120)
    lost = _job(settings)
    _age(lost, 120)

    result = reconcile(settings)

    assert _published(settings) == [str(lost)]
    assert result.queued == 1
    with UnitOfWork() as uow:
        row = uow.session.get(Job, foreign)
        assert row is not None and row.status == "queued"
