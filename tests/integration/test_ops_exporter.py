"""The exporter's gauges, read from a real ledger and a real Redis broker with no consumer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete

from producers.client import Client
from schedq.ops.exporter import GlobalCollector
from schedq.processes import free_port, spawn, stop
from shared import breaker_keys
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
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
    assert found[("celery_queue_length", (("queue_name", settings.schedule_queue),))] == 3
    # Three different doctors: nobody waits behind an earlier job.
    assert found[("schedq_blocked_job_age_seconds", queue)] == 0
    assert found[("schedq_blocked_order_keys", queue)] == 0
    for source in ("broker", "ledger", "breakers", "workers"):
        assert found[("schedq_exporter_source_up", (("source", source),))] == 1


def test_a_job_behind_an_earlier_pending_job_of_its_doctor_is_blocked(
    settings: Settings, uid: str
) -> None:
    client = Client(settings)
    first = client.submit("set_working_plan", plan(f"b-{uid}"))
    client.submit("set_working_plan", plan(f"b-{uid}", start="10:00"))
    client.submit("set_working_plan", plan(f"other-{uid}"))
    time.sleep(0.05)
    found = gauges(GlobalCollector(settings, ping_timeout=0.5))
    queue = (("queue", settings.schedule_queue),)
    assert found[("schedq_blocked_order_keys", queue)] == 1
    assert found[("schedq_blocked_job_age_seconds", queue)] > 0
    # No doctor id in any label.
    assert not [k for k in found if f"b-{uid}" in str(k)]
    with UnitOfWork() as uow:
        uow.session.execute(delete(Job).where(Job.id == first.id))
        uow.commit()
    found = gauges(GlobalCollector(settings, ping_timeout=0.5))
    assert found[("schedq_blocked_order_keys", queue)] == 0


def test_breaker_state_read_from_the_shared_redis_keys(
    settings: Settings, redis_url: str, uid: str
) -> None:
    import pybreaker

    client = redis_lib.Redis.from_url(redis_url)
    provider = f"cal-{uid}.example:443"
    # Written the way a worker's breaker writes it: pybreaker's Redis storage, our namespace.
    storage = pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, client, namespace=breaker_keys.namespace(provider)
    )
    storage.state = pybreaker.STATE_OPEN
    try:
        found = gauges(GlobalCollector(settings, ping_timeout=0.2))
    finally:
        client.delete(*client.keys(f"{breaker_keys.namespace(provider)}:*"))
    assert found[("schedq_breaker_state", (("provider", provider),))] == 2


def test_unreachable_broker_marks_its_sources_down(database_url: str) -> None:
    settings = Settings(broker_url="redis://127.0.0.1:1/0")
    found = gauges(GlobalCollector(settings, ping_timeout=0.2))
    assert found[("schedq_exporter_source_up", (("source", "broker"),))] == 0
    assert found[("schedq_exporter_source_up", (("source", "ledger"),))] == 1


def test_exporter_process_serves_parsable_gauges(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    proc = spawn(["schedq.cli.main", "exporter", "--port", str(port)], {}, tmp_path / "exp.log")
    try:
        text = ""
        for _ in range(50):
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
                break
            except httpx.TransportError:
                time.sleep(0.2)
        names = {family.name for family in text_string_to_metric_families(text)}
    finally:
        stop(proc)
    assert {
        "schedq_queue_depth",
        "schedq_oldest_queued_job_age_seconds",
        "schedq_ledger_jobs",
        "schedq_dead_letter_depth",
        "schedq_workers_up",
        "schedq_exporter_source_up",
    } <= names, (tmp_path / "exp.log").read_text()
