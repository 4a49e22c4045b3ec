"""The exporter's gauges, read from a real ledger and a real Redis broker with no consumer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis as redis_lib
from sqlalchemy import delete

from producers.client import Client
from shared.db.ledger import Job
from shared.db.uow import UnitOfWork
from shared.ops.exporter import GlobalCollector
from shared.settings import Settings
from tests.e2e.test_spine import plan

Gauges = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def gauges(collector: GlobalCollector) -> Gauges:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in collector.collect()
        for s in family.samples
    }


@pytest.fixture
def settings(database_url: str, redis_url: str, uid: str) -> Iterator[Settings]:
    # A queue of its own that no worker consumes: the messages stay where the exporter looks.
    s = Settings(schedule_queue=f"exp-{uid}")
    yield s
    with UnitOfWork() as uow:
        uow.session.execute(delete(Job).where(Job.queue == s.schedule_queue))
        uow.commit()
    redis_lib.Redis.from_url(redis_url).delete(s.schedule_queue)


def test_queue_depth_oldest_job_ledger_and_workers(settings: Settings, uid: str) -> None:
    client = Client(settings)
    for i in range(3):
        client.submit("set_working_plan", plan(f"x{i}-{uid}"))
    found = gauges(GlobalCollector(settings, ping_timeout=0.5))
    queue = (("queue", settings.schedule_queue),)
    assert found[("schedq_queue_depth", queue)] == 3
    assert found[("schedq_oldest_queued_job_age_seconds", queue)] > 0
    assert found[("schedq_ledger_jobs", (("status", "queued"),))] >= 3
    assert found[("schedq_workers_up", queue)] == 0
    for source in ("broker", "ledger", "breakers", "workers"):
        assert found[("schedq_exporter_source_up", (("source", source),))] == 1


def test_breaker_state_read_from_the_shared_redis_keys(
    settings: Settings, redis_url: str, uid: str
) -> None:
    client = redis_lib.Redis.from_url(redis_url)
    # pybreaker's CircuitRedisStorage key for namespace "schedq:breaker:<host>".
    key = f"pybreaker:schedq:breaker:cal-{uid}.example:443:state"
    client.set(key, "open")
    try:
        found = gauges(GlobalCollector(settings, ping_timeout=0.2))
    finally:
        client.delete(key)
    assert found[("schedq_breaker_state", (("provider", f"cal-{uid}.example:443"),))] == 2


def test_unreachable_broker_marks_its_sources_down(database_url: str) -> None:
    settings = Settings(broker_url="redis://127.0.0.1:1/0")
    found = gauges(GlobalCollector(settings, ping_timeout=0.2))
    assert found[("schedq_exporter_source_up", (("source", "broker"),))] == 0
    assert found[("schedq_exporter_source_up", (("source", "ledger"),))] == 1
