"""The submit path on real PostgreSQL and Redis: ledger first, publish after commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from producers.client import Client, JobRequest
from shared.db import base as db_base
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.ledger import connection as producer_db
from shared.settings import Settings, get_settings


def plan(doctor: str, slot: int = 15) -> dict[str, Any]:
    return {
        "doctor_id": doctor,
        "time_zone": "UTC",
        "valid_from": "2026-12-01",
        "slot_minutes": slot,
        "weekdays": {"mon": [{"start": "08:00", "end": "12:00"}]},
    }


@pytest.fixture
def queue_client(
    database_url: str, redis_url: str, uid: str
) -> Iterator[tuple[Client, redis.Redis]]:
    """A client publishing to a queue no worker consumes, so messages can be inspected."""
    settings = Settings(**{**get_settings().model_dump(), "schedule_queue": f"itest-{uid}"})
    r = redis.Redis.from_url(redis_url)
    yield Client(settings, submitter="itest"), r
    r.delete(f"itest-{uid}")


def queued_bodies(r: redis.Redis, queue: str) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in r.lrange(queue, 0, -1)]


def test_submit_commits_ledger_row_then_publishes_only_the_id(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    view = client.submit("set_working_plan", plan(f"c-{uid}"), correlation_id=f"corr-{uid}")
    assert view.status == "queued" and view.correlation_id == f"corr-{uid}"
    with UnitOfWork() as uow:
        job = uow.session.get(Job, uuid.UUID(view.id))
        assert (
            job is not None
            and job.payload["doctor_id"] == f"c-{uid}"
            and job.order_key == f"c-{uid}"
        )
    (message,) = queued_bodies(r, client.settings.schedule_queue)
    assert message["headers"]["task"] == "schedq.schedule.set_working_plan"
    assert message["headers"]["id"] == view.id
    assert message["headers"]["schedq_correlation_id"] == f"corr-{uid}"
    raw = json.dumps(message)
    # Nothing of the payload travels through the broker, only the job id.
    assert f"c-{uid}" not in raw and "08:00" not in raw


def test_submit_many_is_one_transaction_and_one_publish(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    views = client.submit_many(
        [JobRequest("set_working_plan", plan(f"m{i}-{uid}")) for i in range(25)]
    )
    assert len({v.id for v in views}) == 25
    ids = {m["headers"]["id"] for m in queued_bodies(r, client.settings.schedule_queue)}
    assert ids == {v.id for v in views}
    with UnitOfWork() as uow:
        by_seq = uow.session.scalars(
            select(Job.id).where(Job.id.in_([uuid.UUID(v.id) for v in views])).order_by(Job.seq)
        )
        # seq (the order per-doctor jobs are applied in) is the order of the list
        assert [str(i) for i in by_seq] == [v.id for v in views]


def test_failed_batch_writes_nothing_and_publishes_nothing(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    client.submit("set_working_plan", plan(f"k-{uid}"), idempotency_key=f"key-{uid}")
    r.delete(client.settings.schedule_queue)
    batch = [
        JobRequest("set_working_plan", plan(f"n-{uid}")),
        JobRequest("set_working_plan", plan(f"k-{uid}", slot=30), idempotency_key=f"key-{uid}"),
    ]
    with pytest.raises(SchedqError) as info:
        client.submit_many(batch)
    assert info.value.code == "IDEMPOTENCY_CONFLICT"
    with UnitOfWork() as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(Job).where(Job.order_key == f"n-{uid}")
            )
            == 0
        )
    assert r.llen(client.settings.schedule_queue) == 0


def test_idempotency_key_same_payload_returns_the_same_job(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    first = client.submit("set_working_plan", plan(f"i-{uid}"), idempotency_key=f"idem-{uid}")
    second = client.submit("set_working_plan", plan(f"i-{uid}"), idempotency_key=f"idem-{uid}")
    assert first.id == second.id
    assert r.llen(client.settings.schedule_queue) == 1  # published once


def test_a_key_reused_within_a_batch_and_from_before_returns_the_existing_jobs(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    before = client.submit("set_working_plan", plan(f"b0-{uid}"), idempotency_key=f"b0-{uid}")
    views = client.submit_many(
        [
            JobRequest("set_working_plan", plan(f"b1-{uid}"), idempotency_key=f"b1-{uid}"),
            JobRequest("set_working_plan", plan(f"b0-{uid}"), idempotency_key=f"b0-{uid}"),
            JobRequest("set_working_plan", plan(f"b1-{uid}"), idempotency_key=f"b1-{uid}"),
        ]
    )
    assert views[1] == before.model_copy(update={"history": []})
    assert views[0].id == views[2].id != before.id
    assert r.llen(client.settings.schedule_queue) == 2  # before's and b1's


def test_concurrent_submissions_with_one_key_make_one_job(
    queue_client: tuple[Client, redis.Redis], uid: str
) -> None:
    client, r = queue_client
    with ThreadPoolExecutor(max_workers=10) as pool:
        views = list(
            pool.map(
                lambda _: client.submit(
                    "set_working_plan", plan(f"cc-{uid}"), idempotency_key=f"cc-{uid}"
                ),
                range(20),
            )
        )
    assert len({v.id for v in views}) == 1
    with UnitOfWork() as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(Job).where(Job.order_key == f"cc-{uid}")
            )
            == 1
        )
    assert r.llen(client.settings.schedule_queue) == 1


def test_get_job_unknown_and_malformed_ids(database_url: str) -> None:
    client = Client()
    for bad in (str(uuid.uuid4()), "not-a-uuid", "'; select 1;--"):
        with pytest.raises(SchedqError) as info:
            client.get_job(bad)
        assert info.value.code == "JOB_NOT_FOUND"


def test_unknown_kind_and_non_object_payload_are_refused(database_url: str) -> None:
    client = Client()
    with pytest.raises(SchedqError) as info:
        client.submit("drop_all_tables", {})
    assert info.value.code == "UNKNOWN_JOB_KIND"
    with pytest.raises(SchedqError) as info:
        client.submit("set_working_plan", ["not", "an", "object"])  # type: ignore[arg-type]
    assert info.value.code == "VALIDATION_FAILED"


def test_a_pooled_connection_killed_while_idle_is_replaced(
    queue_client: tuple[Client, redis.Redis], uid: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinged after sitting idle, a dead pooled connection is replaced; unpinged, the caller
    gets DATABASE_UNREACHABLE (the driver's error, no host in it, only as its context) and the
    pool drops the connection."""
    base, _ = queue_client
    # A URL of its own (the parameter only makes it unique): a pool of its own, holding
    # exactly the one connection killed below.
    url = f"{base.settings.database_url}?application_name=idle-{uid}"
    client = Client(base.settings.model_copy(update={"database_url": url}), submitter="itest")
    engine = producer_db.producer_engine(url)

    def kill_the_pooled_connection() -> None:
        with engine.connect() as conn:
            pid = conn.scalar(text("SELECT pg_backend_pid()"))
        assert engine.pool.checkedin() == 1
        with UnitOfWork() as uow:
            assert uow.session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    client.submit("set_working_plan", plan(f"p1-{uid}"))
    kill_the_pooled_connection()
    monkeypatch.setattr(db_base, "PING_AFTER_IDLE", 1000.0)
    with pytest.raises(SchedqError) as info:
        client.submit("set_working_plan", plan(f"p2-{uid}"))
    assert info.value.code == "DATABASE_UNREACHABLE" and info.value.retryable
    cause = info.value.__context__
    assert isinstance(cause, DBAPIError) and cause.connection_invalidated
    client.submit("set_working_plan", plan(f"p3-{uid}"))  # on a new connection
    kill_the_pooled_connection()
    monkeypatch.setattr(db_base, "PING_AFTER_IDLE", 0.0)
    view = client.submit("set_working_plan", plan(f"p4-{uid}"))
    assert client.get_job(view.id).status == "queued"
